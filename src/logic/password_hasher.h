// Password hashing with libsodium's argon2id, on a small thread pool of its
// own: a hash costs tens of milliseconds by design and must never run on a
// network or logic thread.
#pragma once

#include <string>

#include <boost/asio/thread_pool.hpp>

#include "common/callback.h"
#include "common/status.h"

namespace parley::logic {

class PasswordHasher {
 public:
  // cost: "min" | "interactive" | "moderate" (libsodium's opslimit/memlimit
  // pairs). INVALID_ARGUMENT for anything else.
  static StatusOr<std::unique_ptr<PasswordHasher>> Create(const std::string& cost,
                                                          unsigned threads);
  ~PasswordHasher();

  // `done` runs on a pool thread.
  void Hash(std::string password, Callback<StatusOr<std::string>> done);
  // Verifies against a stored hash; with an empty hash it still spends the
  // time of a verification (so unknown users cannot be told apart) and fails.
  void Verify(std::string password, std::string hash, Callback<bool> done);

 private:
  PasswordHasher(unsigned long long ops, size_t mem, unsigned threads);
  unsigned long long ops_;
  size_t mem_;
  std::string dummy_hash_;  // for Verify with an unknown user
  boost::asio::thread_pool pool_;
};

// A new opaque bearer token: 32 random bytes, base64url without padding.
std::string NewToken();
// What is stored and looked up instead of the token: hex BLAKE2b-256.
std::string HashToken(const std::string& token);

}  // namespace parley::logic

// Password hashing with libsodium's argon2id, on a small thread pool of its
// own: a hash costs tens of milliseconds by design and must never run on a
// network or logic thread. The queue in front of the pool is bounded, so a
// flood of logins costs a bounded wait rather than starving everyone: when
// `threads` hashes run and `queue_max` wait, a call answers UNAVAILABLE at
// once (kBusyMessage).
//
// Thread-safe. The destructor waits for queued hashes to finish.
#pragma once

#include <atomic>
#include <string>

#include <boost/asio/thread_pool.hpp>

#include "common/callback.h"
#include "common/status.h"

namespace parley::logic {

class PasswordHasher {
 public:
  // cost: "min" | "interactive" | "moderate" (libsodium's opslimit/memlimit
  // pairs). INVALID_ARGUMENT for anything else.
  // `threads` at least 1.
  static StatusOr<std::unique_ptr<PasswordHasher>> Create(const std::string& cost, unsigned threads,
                                                          unsigned queue_max);
  ~PasswordHasher();

  static constexpr const char* kBusyMessage = "too many logins in progress; retry later";

  // `done` runs on a pool thread, or on the caller's when the queue is full.
  void Hash(std::string password, Callback<StatusOr<std::string>> done);
  // Verifies against a stored hash: true when it matches. With an empty hash
  // it still spends the time of a verification (so unknown users cannot be
  // told apart) and answers false.
  void Verify(std::string password, std::string hash, Callback<StatusOr<bool>> done);

 private:
  PasswordHasher(unsigned long long ops, size_t mem, unsigned threads, unsigned queue_max);
  // Counts one more hash in the pool unless it is full.
  bool TryEnter();

  unsigned long long ops_;
  size_t mem_;
  const unsigned capacity_;           // running + waiting
  std::atomic<unsigned> in_pool_{0};  // running + waiting now
  std::string dummy_hash_;            // for Verify with an unknown user
  boost::asio::thread_pool pool_;
};

// A new opaque bearer token: 32 random bytes, base64url without padding.
std::string NewToken();
// What is stored and looked up instead of the token: hex BLAKE2b-256.
std::string HashToken(const std::string& token);

}  // namespace parley::logic

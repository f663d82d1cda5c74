#include "logic/password_hasher.h"

#include <sodium.h>

#include <boost/asio/post.hpp>

namespace parley::logic {

StatusOr<std::unique_ptr<PasswordHasher>> PasswordHasher::Create(const std::string& cost,
                                                                 unsigned threads,
                                                                 unsigned queue_max) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (threads == 0) return Status::InvalidArgument("password_hash_threads must be at least 1");
  if (cost == "min") {
    return std::unique_ptr<PasswordHasher>(new PasswordHasher(
        crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, threads, queue_max));
  }
  if (cost == "interactive") {
    return std::unique_ptr<PasswordHasher>(new PasswordHasher(crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                                              threads, queue_max));
  }
  if (cost == "moderate") {
    return std::unique_ptr<PasswordHasher>(new PasswordHasher(
        crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE, threads, queue_max));
  }
  return Status::InvalidArgument("password hash cost must be min, interactive or moderate");
}

PasswordHasher::PasswordHasher(unsigned long long ops, size_t mem, unsigned threads,
                               unsigned queue_max)
    : ops_(ops), mem_(mem), capacity_(threads + queue_max), pool_(threads) {
  char out[crypto_pwhash_STRBYTES];
  static constexpr char kDummy[] = "parley-dummy-password";
  if (crypto_pwhash_str(out, kDummy, sizeof kDummy - 1, ops_, mem_) == 0) dummy_hash_ = out;
}

PasswordHasher::~PasswordHasher() { pool_.join(); }

bool PasswordHasher::TryEnter() {
  unsigned n = in_pool_.load();
  do {
    if (n >= capacity_) return false;
  } while (!in_pool_.compare_exchange_weak(n, n + 1));
  return true;
}

void PasswordHasher::Hash(std::string password, Callback<StatusOr<std::string>> done) {
  if (!TryEnter()) return done(Status::Unavailable(kBusyMessage));
  boost::asio::post(pool_, [this, password = std::move(password), done = std::move(done)] {
    char out[crypto_pwhash_STRBYTES];
    bool ok = crypto_pwhash_str(out, password.data(), password.size(), ops_, mem_) == 0;
    --in_pool_;
    if (!ok) return done(Status::Internal("out of memory while hashing"));
    done(std::string(out));
  });
}

void PasswordHasher::Verify(std::string password, std::string hash, Callback<StatusOr<bool>> done) {
  if (!TryEnter()) return done(Status::Unavailable(kBusyMessage));
  boost::asio::post(pool_, [this, password = std::move(password), hash = std::move(hash),
                            done = std::move(done)] {
    const std::string& against = hash.empty() ? dummy_hash_ : hash;
    bool match = crypto_pwhash_str_verify(against.c_str(), password.data(), password.size()) == 0;
    --in_pool_;
    done(match && !hash.empty());
  });
}

std::string NewToken() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof out, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

std::string HashToken(const std::string& token) {
  unsigned char digest[32];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

}  // namespace parley::logic

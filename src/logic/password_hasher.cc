#include "logic/password_hasher.h"

#include <sodium.h>

#include <boost/asio/post.hpp>

namespace parley::logic {

StatusOr<std::unique_ptr<PasswordHasher>> PasswordHasher::Create(const std::string& cost,
                                                                 unsigned threads) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (cost == "min") {
    return std::unique_ptr<PasswordHasher>(
        new PasswordHasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, threads));
  }
  if (cost == "interactive") {
    return std::unique_ptr<PasswordHasher>(new PasswordHasher(
        crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE, threads));
  }
  if (cost == "moderate") {
    return std::unique_ptr<PasswordHasher>(new PasswordHasher(
        crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE, threads));
  }
  return Status::InvalidArgument("password hash cost must be min, interactive or moderate");
}

PasswordHasher::PasswordHasher(unsigned long long ops, size_t mem, unsigned threads)
    : ops_(ops), mem_(mem), pool_(threads) {
  char out[crypto_pwhash_STRBYTES];
  static constexpr char kDummy[] = "parley-dummy-password";
  if (crypto_pwhash_str(out, kDummy, sizeof kDummy - 1, ops_, mem_) == 0) dummy_hash_ = out;
}

PasswordHasher::~PasswordHasher() { pool_.join(); }

void PasswordHasher::Hash(std::string password, Callback<StatusOr<std::string>> done) {
  boost::asio::post(pool_, [this, password = std::move(password), done = std::move(done)] {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), ops_, mem_) != 0) {
      done(Status::Internal("out of memory while hashing"));
      return;
    }
    done(std::string(out));
  });
}

void PasswordHasher::Verify(std::string password, std::string hash, Callback<bool> done) {
  boost::asio::post(pool_, [this, password = std::move(password), hash = std::move(hash),
                            done = std::move(done)] {
    if (hash.empty()) {
      [[maybe_unused]] int ignored =
          crypto_pwhash_str_verify(dummy_hash_.c_str(), password.data(), password.size());
      done(false);
      return;
    }
    done(crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0);
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

// Small helpers shared by the Redis-backed state seams: reading replies,
// joining several concurrent calls into one answer, and repeating a script
// that must reach Redis. Internal to this folder.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/callback.h"
#include "common/status.h"
#include "redis/redis_client.h"

namespace parley::state::redis_internal {

// OK unless the reply is an error reply (then INTERNAL with its text: our
// scripts and commands are not expected to fail).
inline Status ErrorOf(const redis::Reply& r) {
  if (r.is_error()) return Status::Internal("redis: " + r.str);
  return Status::Ok();
}

inline std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// An integer reply, or a string reply holding a decimal integer.
inline std::optional<uint64_t> U64Of(const redis::Reply& r) {
  if (r.type == redis::Reply::Type::kInteger) {
    if (r.integer < 0) return std::nullopt;
    return static_cast<uint64_t>(r.integer);
  }
  if (r.type == redis::Reply::Type::kString || r.type == redis::Reply::Type::kStatus) {
    return ParseU64(r.str);
  }
  return std::nullopt;
}

// Collects `n` answers (slot i for the i-th call) and calls `done` once with
// all of them after the last one arrives. Thread-safe.
template <typename T>
class Gather : public std::enable_shared_from_this<Gather<T>> {
 public:
  static std::shared_ptr<Gather> Create(size_t n, Callback<std::vector<T>> done) {
    return std::shared_ptr<Gather>(new Gather(n, std::move(done)));
  }
  Callback<T> Slot(size_t i) {
    return [self = this->shared_from_this(), i](T v) { self->Set(i, std::move(v)); };
  }

 private:
  Gather(size_t n, Callback<std::vector<T>> done)
      : values_(n), remaining_(n), done_(std::move(done)) {}
  void Set(size_t i, T v) {
    bool last = false;
    {
      std::lock_guard lock(mu_);
      values_[i].emplace(std::move(v));
      last = --remaining_ == 0;
    }
    if (!last) return;
    std::vector<T> out;
    out.reserve(values_.size());
    for (auto& v : values_) out.push_back(std::move(*v));
    done_(std::move(out));
  }

  std::mutex mu_;
  std::vector<std::optional<T>> values_;  // guarded by mu_
  size_t remaining_;                      // guarded by mu_
  Callback<std::vector<T>> done_;
};

// Runs `script`, which must be safe to run twice (it frees or raises only
// what is still ours); `done` (may be empty) gets the first attempt's reply.
// Attempts that fail with the connection (Redis restarting) are repeated on
// `ex` with backoff, 50 ms doubling to 1 s, until `expires`: for releases of
// claims and leases, which would otherwise hold other sends until their TTL.
inline void EvalUntilAnswered(std::shared_ptr<redis::RedisClient> client,
                              boost::asio::any_io_executor ex, redis::Script script,
                              std::vector<std::string> keys, std::vector<std::string> args,
                              std::chrono::steady_clock::time_point expires,
                              Callback<StatusOr<redis::Reply>> done, uint32_t backoff_ms = 50) {
  redis::RedisClient& c = *client;
  c.Eval(script, keys, args,
         [client = std::move(client), ex, script, keys, args, expires, backoff_ms,
          done = std::move(done)](StatusOr<redis::Reply> reply) mutable {
           const bool lost = !reply.ok();
           if (done) done(std::move(reply));
           const auto wait = std::chrono::milliseconds(backoff_ms);
           if (!lost || std::chrono::steady_clock::now() + wait >= expires) return;
           auto timer = std::make_shared<boost::asio::steady_timer>(ex, wait);
           timer->async_wait([=](const boost::system::error_code&) mutable {
             (void)timer;  // kept alive until it fires
             EvalUntilAnswered(std::move(client), ex, std::move(script), std::move(keys),
                               std::move(args), expires, nullptr, std::min(backoff_ms * 2, 1000u));
           });
         });
}

}  // namespace parley::state::redis_internal

#include "common/connection_limiter.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>

namespace parley {

namespace {
// File descriptors kept for everything but client connections (the store,
// logs, HTTP requests, gRPC).
constexpr rlim_t kReservedFds = 512;
}  // namespace

uint32_t ConnectionLimiter::CapByOpenFiles(uint32_t configured, uint32_t fds_per_connection) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return configured;
  const rlim_t usable =
      (lim.rlim_cur > 2 * kReservedFds ? lim.rlim_cur - kReservedFds : lim.rlim_cur / 2) /
      std::max<uint32_t>(fds_per_connection, 1);
  if (configured != 0 && configured <= usable) return configured;
  return static_cast<uint32_t>(std::min<rlim_t>(usable, UINT32_MAX));
}

void ConnectionLimiter::Lease::reset() {
  if (limiter_ == nullptr) return;
  std::exchange(limiter_, nullptr)->Release(key_, counted_key_);
  key_.clear();
}

StatusOr<ConnectionLimiter::Lease> ConnectionLimiter::Admit(std::string key, bool count_key) {
  std::lock_guard lock(mu_);
  if (caps_.total != 0 && total_ >= caps_.total) {
    return Status::Unavailable("this server holds all the connections it can; retry later");
  }
  if (count_key) {
    uint32_t& n = per_key_[key];
    if (caps_.per_key != 0 && n >= caps_.per_key) {
      return Status::RateLimited("too many connections from this address");
    }
    ++n;
  }
  ++total_;
  return Lease(this, std::move(key), count_key);
}

void ConnectionLimiter::Release(const std::string& key, bool counted_key) {
  std::lock_guard lock(mu_);
  --total_;
  if (!counted_key) return;
  auto it = per_key_.find(key);
  if (it != per_key_.end() && --it->second == 0) per_key_.erase(it);
}

uint32_t ConnectionLimiter::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

uint32_t ConnectionLimiter::count(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = per_key_.find(key);
  return it == per_key_.end() ? 0 : it->second;
}

size_t ConnectionLimiter::keys() const {
  std::lock_guard lock(mu_);
  return per_key_.size();
}

}  // namespace parley

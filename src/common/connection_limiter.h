// ConnectionLimiter: caps on open connections, in total and per key (a client
// IP address), for the process that accepts the client's socket (the connect
// node's WebSocket port, or the api's /ws proxy in a cluster). A connection
// takes a Lease when it is accepted and gives it back when the Lease is
// destroyed.
//
// Thread-safe: one mutex guards the counts, taken once when a connection is
// admitted and once when it ends, never per frame. Lifetime: the limiter
// must outlive every Lease it handed out.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/status.h"

namespace parley {

class ConnectionLimiter {
 public:
  struct Caps {
    uint32_t total = 0;    // open connections in all; 0: no cap
    uint32_t per_key = 0;  // open connections of one key; 0: no cap
  };

  // A place held in the counts; movable, gives the place back when destroyed
  // or reset. An empty Lease holds nothing.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept
        : limiter_(std::exchange(other.limiter_, nullptr)),
          key_(std::move(other.key_)),
          counted_key_(other.counted_key_) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        reset();
        limiter_ = std::exchange(other.limiter_, nullptr);
        key_ = std::move(other.key_);
        counted_key_ = other.counted_key_;
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { reset(); }

    void reset();
    bool held() const { return limiter_ != nullptr; }

   private:
    friend class ConnectionLimiter;
    Lease(ConnectionLimiter* limiter, std::string key, bool counted_key)
        : limiter_(limiter), key_(std::move(key)), counted_key_(counted_key) {}

    ConnectionLimiter* limiter_ = nullptr;
    std::string key_;
    bool counted_key_ = false;
  };

  explicit ConnectionLimiter(Caps caps) : caps_(caps) {}
  ConnectionLimiter(const ConnectionLimiter&) = delete;
  ConnectionLimiter& operator=(const ConnectionLimiter&) = delete;

  // Admits one more connection of `key`, or refuses it: UNAVAILABLE when the
  // total is reached (the node is full: another may not be), RATE_LIMITED
  // when `key` is at its cap. With `count_key` false only the total is
  // checked (a connection whose key is capped elsewhere, e.g. by a proxy).
  StatusOr<Lease> Admit(std::string key, bool count_key = true);

  // `configured` (0: no cap), lowered to what the process's open-file limit
  // allows for connections of `fds_per_connection` descriptors each, less a
  // reserve for everything else: accepting past it fails anyway, and failing
  // accepts spin.
  static uint32_t CapByOpenFiles(uint32_t configured, uint32_t fds_per_connection);

  uint32_t total() const;
  uint32_t count(const std::string& key) const;
  // Keys with at least one open connection (memory follows open connections).
  size_t keys() const;

 private:
  void Release(const std::string& key, bool counted_key);

  const Caps caps_;
  mutable std::mutex mu_;
  // State below is protected by mu_.
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_key_;
};

}  // namespace parley

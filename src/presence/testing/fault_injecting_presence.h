// FaultInjectingPresence: forwards every call to another Presence, counts
// Lookups, and can fail the next Lookups without reaching it; for tests of
// Presence's callers (what they do when the presence backend is down).
//
// Thread-safe; `done` runs where the target runs it, or inline for an
// injected failure. Does not own the target, which must outlive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "presence/presence.h"

namespace parley::presence {

class FaultInjectingPresence final : public Presence {
 public:
  explicit FaultInjectingPresence(Presence& target) : target_(target) {}

  // The next `n` Lookups answer `error` (not OK).
  void FailLookups(uint64_t n, Status error = Status::Unavailable("injected lookup failure")) {
    std::lock_guard lock(mu_);
    failures_left_ = n;
    error_ = std::move(error);
  }
  // Lookups called so far, failed ones included.
  uint64_t lookups() const { return lookups_.load(); }

  void Add(Connection conn, Callback<Status> done) override {
    target_.Add(std::move(conn), std::move(done));
  }
  void Remove(Connection conn, Callback<Status> done) override {
    target_.Remove(std::move(conn), std::move(done));
  }
  void Lookup(std::vector<uint64_t> users,
              Callback<StatusOr<std::vector<std::vector<Connection>>>> done) override {
    lookups_.fetch_add(1);
    Status error;
    {
      std::lock_guard lock(mu_);
      if (failures_left_ > 0) {
        --failures_left_;
        error = error_;
      }
    }
    if (!error.ok()) return done(std::move(error));
    target_.Lookup(std::move(users), std::move(done));
  }
  void RemoveNode(std::string node_id, uint64_t epoch, Callback<Status> done) override {
    target_.RemoveNode(std::move(node_id), epoch, std::move(done));
  }

 private:
  Presence& target_;
  std::atomic<uint64_t> lookups_{0};
  std::mutex mu_;
  // State below is protected by mu_.
  uint64_t failures_left_ = 0;
  Status error_;
};

}  // namespace parley::presence

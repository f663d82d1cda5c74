// MemoryPresence: presence held in this process's memory, for embedded mode,
// where the one process holds every connection.
//
// Thread-safe. Every call completes before it returns: `done` runs inline on
// the caller's thread, after the lock is released (so it may call back into
// this object). One mutex, held only to edit or read the map; a Lookup of
// many users takes it once.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "presence/presence.h"

namespace parley::presence {

class MemoryPresence final : public Presence {
 public:
  void Add(Connection conn, Callback<Status> done) override;
  void Remove(Connection conn, Callback<Status> done) override;
  void Lookup(std::vector<uint64_t> users,
              Callback<StatusOr<std::vector<std::vector<Connection>>>> done) override;
  void RemoveNode(std::string node_id, uint64_t epoch, Callback<Status> done) override;

 private:
  std::mutex mu_;
  // State below is protected by mu_. A user with no connection has no entry.
  std::unordered_map<uint64_t, std::vector<Connection>> conns_;
};

}  // namespace parley::presence

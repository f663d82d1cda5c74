// Presence held in this process's memory: embedded mode, where the one
// process holds every connection. Thread-safe; one mutex held only for map
// edits and lookups.
#pragma once

#include <mutex>
#include <unordered_map>
#include <vector>

#include "presence/presence.h"

namespace parley::presence {

class MemoryPresence final : public Presence {
 public:
  void Add(uint64_t user_id, const ConnRef& conn) override;
  void Remove(uint64_t user_id, const ConnRef& conn) override;
  std::vector<std::string> NodesOf(uint64_t user_id) const override;
  bool IsOnline(uint64_t user_id) const override;
  void RemoveNode(const std::string& node_id) override;

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::vector<ConnRef>> conns_;  // guarded by mu_
};

}  // namespace parley::presence

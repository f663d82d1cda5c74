#include "presence/memory/memory_presence.h"

#include <algorithm>

namespace parley::presence {

void MemoryPresence::Add(uint64_t user_id, const ConnRef& conn) {
  std::lock_guard lock(mu_);
  conns_[user_id].push_back(conn);
}

void MemoryPresence::Remove(uint64_t user_id, const ConnRef& conn) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(user_id);
  if (it == conns_.end()) return;
  std::erase(it->second, conn);
  if (it->second.empty()) conns_.erase(it);
}

std::vector<std::string> MemoryPresence::NodesOf(uint64_t user_id) const {
  std::vector<std::string> nodes;
  std::lock_guard lock(mu_);
  auto it = conns_.find(user_id);
  if (it == conns_.end()) return nodes;
  for (const ConnRef& c : it->second) {
    if (std::find(nodes.begin(), nodes.end(), c.node_id) == nodes.end()) nodes.push_back(c.node_id);
  }
  return nodes;
}

bool MemoryPresence::IsOnline(uint64_t user_id) const {
  std::lock_guard lock(mu_);
  return conns_.contains(user_id);
}

void MemoryPresence::RemoveNode(const std::string& node_id) {
  std::lock_guard lock(mu_);
  for (auto it = conns_.begin(); it != conns_.end();) {
    std::erase_if(it->second, [&](const ConnRef& c) { return c.node_id == node_id; });
    it = it->second.empty() ? conns_.erase(it) : std::next(it);
  }
}

}  // namespace parley::presence

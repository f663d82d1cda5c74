// Presence: which users hold live connections, and on which connect node.
// Embedded mode: MemoryPresence; cluster mode: Redis. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley::presence {

struct ConnRef {
  std::string node_id;
  uint64_t conn_id = 0;
  bool operator==(const ConnRef&) const = default;
};

class Presence {
 public:
  virtual ~Presence() = default;
  virtual void Add(uint64_t user_id, const ConnRef& conn) = 0;
  virtual void Remove(uint64_t user_id, const ConnRef& conn) = 0;
  // Nodes holding at least one connection of the user (no duplicates).
  virtual std::vector<std::string> NodesOf(uint64_t user_id) const = 0;
  virtual bool IsOnline(uint64_t user_id) const = 0;
  // Drops every connection of a node (it died or is draining).
  virtual void RemoveNode(const std::string& node_id) = 0;
};

}  // namespace parley::presence

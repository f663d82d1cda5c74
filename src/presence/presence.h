// Presence: which users hold live connections, on which connect node. Written
// by connect nodes (through logic's Connect/Disconnect), read in batches by
// the push path. Embedded mode: MemoryPresence; cluster mode: Redis.
//
// Every method is asynchronous: it returns at once and calls `done` exactly
// once, on a thread of the implementation (possibly the caller's, before
// returning). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/callback.h"
#include "common/status.h"

namespace parley::presence {

// One live connection. `node_epoch` tells a node's incarnations apart (in the
// cluster, the create revision of its discovery lease): a connection recorded
// by an earlier epoch of the node is dead even if the node id is back.
struct Connection {
  uint64_t user_id = 0;
  std::string node_id;
  uint64_t node_epoch = 0;
  uint64_t conn_id = 0;
  bool operator==(const Connection&) const = default;
};

class Presence {
 public:
  virtual ~Presence() = default;

  // Records a live connection; visible to every Lookup once `done` runs OK.
  // Adding the same connection twice keeps one record.
  virtual void Add(Connection conn, Callback<Status> done) = 0;
  // Forgets a connection; OK also when it was not recorded.
  virtual void Remove(Connection conn, Callback<Status> done) = 0;
  // The live connections of each user, in one round trip: reply[i] lists
  // users[i]'s connections (empty when offline), in no particular order.
  virtual void Lookup(std::vector<uint64_t> users,
                      Callback<StatusOr<std::vector<std::vector<Connection>>>> done) = 0;
  // Drops, wholesale, every connection recorded by `node_id` with an epoch
  // at most `epoch` (the node died or restarted as a later epoch).
  virtual void RemoveNode(std::string node_id, uint64_t epoch, Callback<Status> done) = 0;
};

}  // namespace parley::presence

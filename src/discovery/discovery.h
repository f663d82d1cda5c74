// Discovery: the live nodes of each role, and node ids. Embedded mode:
// MemoryDiscovery (memory/, one process, no peers); cluster mode: etcd, where a
// registration is a key under a lease and a node that stops renewing its
// lease disappears from every watcher.
//
// Every method is asynchronous: it returns at once and calls `done` exactly
// once, on a thread of the implementation (possibly the caller's). Watch
// handlers run on a thread of the implementation, one call at a time per
// watch. Implementations are thread-safe; they must outlive their watches.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/callback.h"
#include "common/status.h"

namespace parley::discovery {

struct NodeInfo {
  std::string node_id;
  std::string role;     // "api" | "logic" | "task" | "connect"
  std::string address;  // host:port of its RPC (or HTTP for api)
  std::string ws_url;   // connect nodes: the public WebSocket URL
  uint64_t load = 0;    // connect nodes: live connections
  // Tells incarnations of one node id apart; increases with each
  // registration (etcd: the lease key's create revision). Set by Register.
  uint64_t epoch = 0;
  // Connect nodes: host:port of the WebSocket listener itself, for proxies
  // inside the cluster (ws_url may name a load balancer in front of it).
  std::string ws_address = {};
  bool operator==(const NodeInfo&) const = default;
};

// A registration held under a lease. Destroying it (or Close) withdraws the
// node; if the process dies, the lease expires and the node is dropped after
// at most the lease TTL. Thread-safe.
class Registration {
 public:
  virtual ~Registration() = default;
  virtual const NodeInfo& node() const = 0;
  // Updates the advertised load (connect nodes).
  virtual void ReportLoad(uint64_t load) = 0;
  // Withdraws the node now; idempotent.
  virtual void Close() = 0;
};

// A live watch; destroying it stops the handler (no call starts after the
// destructor returns).
class Watch {
 public:
  virtual ~Watch() = default;
};

class Discovery {
 public:
  virtual ~Discovery() = default;

  // Registers `node` under a lease of `ttl_ms`, kept alive until the
  // Registration is closed or destroyed. ALREADY_EXISTS when a live node of
  // the same role already holds node_id (create-if-absent). The returned
  // registration's node() carries the epoch.
  virtual void Register(NodeInfo node, int64_t ttl_ms,
                        Callback<StatusOr<std::unique_ptr<Registration>>> done) = 0;

  // Live nodes of the role; connect nodes least loaded first.
  virtual void Nodes(std::string role, Callback<StatusOr<std::vector<NodeInfo>>> done) = 0;

  // Calls `handler` with the full list of live nodes of `role` at once, and
  // again after every change (join, leave, load or epoch change), in order.
  virtual std::unique_ptr<Watch> WatchRole(std::string role,
                                           std::function<void(std::vector<NodeInfo>)> handler) = 0;

  // Allocates a node id in [0, max_id] unique among live holders of `scope`
  // (snowflake worker ids), held under a lease like Register: closing or
  // destroying the registration frees it. The registration's node() has the
  // id in decimal as node_id, `scope` as role, and an epoch. UNAVAILABLE
  // when every id is taken.
  //
  // Register and AllocateId answer INVALID_ARGUMENT for ttl_ms <= 0. The
  // behaviour of every implementation is pinned by the typed contract suite
  // in testing/discovery_contract.h.
  virtual void AllocateId(std::string scope, uint32_t max_id, int64_t ttl_ms,
                          Callback<StatusOr<std::unique_ptr<Registration>>> done) = 0;
};

}  // namespace parley::discovery

// Discovery: the live nodes of each role. Embedded mode: StaticDiscovery (the
// process itself); cluster mode: etcd leases. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley::discovery {

struct NodeInfo {
  std::string node_id;
  std::string role;     // "api" | "logic" | "task" | "connect"
  std::string address;  // host:port of its RPC (or HTTP for api)
  std::string ws_url;   // connect nodes: the public WebSocket URL
  uint64_t load = 0;    // connect nodes: live connections
};

class Discovery {
 public:
  virtual ~Discovery() = default;
  // Live nodes of the role; connect nodes least loaded first.
  virtual std::vector<NodeInfo> Nodes(const std::string& role) const = 0;
  // Updates this process's advertised load.
  virtual void ReportLoad(const std::string& node_id, uint64_t load) = 0;
};

}  // namespace parley::discovery

// Discovery from a fixed list: embedded mode (the process is every node) and
// small static deployments. Thread-safe.
#pragma once

#include <mutex>
#include <vector>

#include "discovery/discovery.h"

namespace parley::discovery {

class StaticDiscovery final : public Discovery {
 public:
  explicit StaticDiscovery(std::vector<NodeInfo> nodes = {}) : nodes_(std::move(nodes)) {}
  // Replaces the list (e.g. once the listening port is known).
  void SetNodes(std::vector<NodeInfo> nodes);
  std::vector<NodeInfo> Nodes(const std::string& role) const override;
  void ReportLoad(const std::string& node_id, uint64_t load) override;

 private:
  mutable std::mutex mu_;
  std::vector<NodeInfo> nodes_;  // guarded by mu_
};

}  // namespace parley::discovery

#include "discovery/static/static_discovery.h"

#include <algorithm>

namespace parley::discovery {

std::vector<NodeInfo> StaticDiscovery::Nodes(const std::string& role) const {
  std::vector<NodeInfo> out;
  {
    std::lock_guard lock(mu_);
    for (const NodeInfo& n : nodes_) {
      if (n.role == role) out.push_back(n);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.load < b.load; });
  return out;
}

void StaticDiscovery::SetNodes(std::vector<NodeInfo> nodes) {
  std::lock_guard lock(mu_);
  nodes_ = std::move(nodes);
}

void StaticDiscovery::ReportLoad(const std::string& node_id, uint64_t load) {
  std::lock_guard lock(mu_);
  for (NodeInfo& n : nodes_) {
    if (n.node_id == node_id) n.load = load;
  }
}

}  // namespace parley::discovery

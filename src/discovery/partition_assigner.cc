#include "discovery/partition_assigner.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "common/stable_hash.h"

namespace parley::discovery {

std::vector<std::string> AssignPartitions(uint32_t partitions,
                                          const std::vector<std::string>& nodes,
                                          uint32_t vnodes_per_node) {
  std::vector<std::string> members = nodes;
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.empty()) return {};
  const uint32_t vnodes = std::clamp(vnodes_per_node, 1u, kMaxVnodesPerNode);

  // (point, member index); ties broken by member index, itself sorted by id,
  // so the ring does not depend on the input order.
  std::vector<std::pair<uint64_t, size_t>> ring;
  ring.reserve(members.size() * vnodes);
  for (size_t m = 0; m < members.size(); ++m) {
    for (uint32_t v = 0; v < vnodes; ++v) {
      ring.emplace_back(StableHash64(members[m] + "#" + std::to_string(v)), m);
    }
  }
  std::sort(ring.begin(), ring.end());

  std::vector<std::string> owners;
  owners.reserve(partitions);
  for (uint32_t p = 0; p < partitions; ++p) {
    const uint64_t h = StableHash64("partition:" + std::to_string(p));
    auto it = std::lower_bound(ring.begin(), ring.end(), std::make_pair(h, size_t{0}));
    if (it == ring.end()) it = ring.begin();
    owners.push_back(members[it->second]);
  }
  return owners;
}

}  // namespace parley::discovery

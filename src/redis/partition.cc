#include "redis/partition.h"

#include <fmt/format.h>

#include "common/stable_hash.h"

namespace parley::redis {

uint32_t PartitionOf(std::string_view conv, uint32_t partitions) {
  return static_cast<uint32_t>(Fnv1a64(conv) % (partitions == 0 ? 1 : partitions));
}

std::string PartitionTag(uint32_t p) { return fmt::format("{{p{}}}", p); }

std::string LogKey(uint32_t p) { return fmt::format("parley:{{p{}}}:log", p); }

std::string SeqKey(uint32_t p, std::string_view conv) {
  return fmt::format("parley:{{p{}}}:seq:{}", p, conv);
}

std::string LeaseKey(uint32_t p, std::string_view conv) {
  return fmt::format("parley:{{p{}}}:lease:{}", p, conv);
}

std::string SentKey(uint64_t from, std::string_view client_id) {
  return fmt::format("parley:{{u{}}}:sent:{}", from, client_id);
}

}  // namespace parley::redis

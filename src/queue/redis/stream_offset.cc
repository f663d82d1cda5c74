#include "queue/redis/stream_offset.h"

#include <charconv>

namespace parley::queue {

std::optional<uint64_t> EncodeOffset(StreamPosition pos) {
  if (pos.number == 0 || pos.number > kMaxEntryNumber) return std::nullopt;
  if (pos.partition >= (uint32_t{1} << kPartitionBits)) return std::nullopt;
  return (pos.number << kPartitionBits) | pos.partition;
}

std::optional<StreamPosition> DecodeOffset(uint64_t offset) {
  StreamPosition pos;
  pos.number = offset >> kPartitionBits;
  pos.partition = static_cast<uint32_t>(offset & ((uint64_t{1} << kPartitionBits) - 1));
  if (pos.number == 0) return std::nullopt;
  return pos;
}

std::optional<uint64_t> ParseEntryId(std::string_view id) {
  if (!id.starts_with("0-")) return std::nullopt;
  id.remove_prefix(2);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  if (ec != std::errc() || end != id.data() + id.size() || n == 0) return std::nullopt;
  return n;
}

std::string EntryId(uint64_t number) { return "0-" + std::to_string(number); }

}  // namespace parley::queue

// The MessageLog offset of a partition stream's entry. RedisMessageLog adds
// entries with ids "0-<n>" (XADD <key> 0-*: Redis numbers them 1, 2, ... per
// partition), so an entry's offset is computed from where it is, not kept in
// a table: (n << 10) | partition. Every group, process and restart sees the
// same offset for an entry; offsets increase along each partition's stream
// (entries of different partitions have no order). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::queue {

inline constexpr int kPartitionBits = 10;  // redis::kMaxPartitions == 1 << 10
inline constexpr uint64_t kMaxEntryNumber = (uint64_t{1} << (64 - kPartitionBits)) - 1;

struct StreamPosition {
  uint32_t partition = 0;
  uint64_t number = 0;  // n of the id "0-<n>"
  bool operator==(const StreamPosition&) const = default;
};

// nullopt when `number` is 0 or too large, or `partition` >= 1024.
std::optional<uint64_t> EncodeOffset(StreamPosition pos);
// nullopt for 0 (no entry has it).
std::optional<StreamPosition> DecodeOffset(uint64_t offset);

// The number n of a stream id "0-<n>"; nullopt for any other id.
std::optional<uint64_t> ParseEntryId(std::string_view id);
// "0-<n>".
std::string EntryId(uint64_t number);

}  // namespace parley::queue

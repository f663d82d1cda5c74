// The partitioning of the cluster's Redis keys (docs: the Redis key schema).
// A conversation's log entries, seq counter, lease and idempotency records
// live in one partition, whose keys share a hash tag "{p<k>}", so that a
// future Redis Cluster keeps a partition in one slot. The number of
// partitions is fixed when the cluster is created. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::redis {

// Partitions are numbered 0..partitions-1; at most this many.
inline constexpr uint32_t kMaxPartitions = 1024;

// FNV-1a (64-bit) of `conv`, modulo `partitions` (> 0): the same in every
// process and every version.
uint32_t PartitionOf(std::string_view conv, uint32_t partitions);

// "{p<p>}", the hash tag of partition p's keys.
std::string PartitionTag(uint32_t p);

// The keys of the schema, built from a partition number.
// parley:{p<k>}:log                    the partition's stream
std::string LogKey(uint32_t p);
// parley:{p<k>}:seq:<conv>             the conversation's last used seq
std::string SeqKey(uint32_t p, std::string_view conv);
// parley:{p<k>}:lease:<conv>           an open seq lease on the conversation
std::string LeaseKey(uint32_t p, std::string_view conv);
// parley:{u<from>}:sent:<client_id>   the idempotency record of a send. It is
// the sender's, not the conversation's: PROTOCOL.md makes a client id unique
// per sender whatever the recipient, so a resend to another recipient finds
// it. The append script writes it beside the partition's keys, which one
// Redis allows; a sharded Redis would need it in the partition's slot.
std::string SentKey(uint64_t from, std::string_view client_id);
// Set once when the cluster's Redis is first initialised.
inline constexpr std::string_view kMetaInitializedKey = "parley:meta:initialized";

}  // namespace parley::redis

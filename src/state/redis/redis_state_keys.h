// The Redis keys of the state seams (docs: /work/redis-schema.md). Keys of a
// conversation's partition carry the partition's hash tag "{p<k>}"; keys of
// a user, a session or a group carry a tag of their own, so that every
// script touches one slot only. Immutable after construction; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "redis/partition.h"

namespace parley::state {

class RedisStateKeys {
 public:
  RedisStateKeys(std::string prefix, uint32_t partitions)
      : prefix_(std::move(prefix)), partitions_(partitions) {}

  uint32_t partitions() const { return partitions_; }
  uint32_t PartitionOf(std::string_view conv) const {
    return redis::PartitionOf(conv, partitions_);
  }
  // "<prefix>:{p<k>}:" of the partition.
  std::string Partition(uint32_t p) const { return prefix_ + ':' + redis::PartitionTag(p) + ':'; }
  std::string OfConv(std::string_view conv, std::string_view kind) const {
    return Partition(PartitionOf(conv)) + std::string(kind) + ':' + std::string(conv);
  }

  std::string Seq(std::string_view conv) const { return OfConv(conv, "seq"); }
  std::string Lease(std::string_view conv) const { return OfConv(conv, "lease"); }
  // The next turn at a held lease, reserved by a process that waits for it.
  std::string LeaseWant(std::string_view conv) const { return OfConv(conv, "leasewant"); }
  std::string Recent(std::string_view conv) const { return OfConv(conv, "recent"); }
  // The bytes of the payloads held in Recent(conv).
  std::string RecentBytes(std::string_view conv) const { return OfConv(conv, "recentbytes"); }
  // The idempotency record of (from, client_id), in `conv`'s partition, and
  // the line of claims waiting for it (a list of tokens, and a hash token ->
  // deadline by which the waiter must ask again).
  // The sender's record (redis::SentKey): `conv` does not route it.
  std::string Sent(std::string_view /*conv*/, uint64_t from, std::string_view client_id) const {
    return prefix_ + ":{u" + std::to_string(from) + "}:sent:" + std::string(client_id);
  }
  std::string SentLine(std::string_view conv, uint64_t from, std::string_view client_id) const {
    return Sent(conv, from, client_id) + ":line";
  }
  std::string SentWaiters(std::string_view conv, uint64_t from, std::string_view client_id) const {
    return Sent(conv, from, client_id) + ":waiters";
  }
  std::string Initialized() const { return prefix_ + ":meta:initialized"; }
  std::string NewConversations(uint64_t user) const {
    return prefix_ + ":{u" + std::to_string(user) + "}:newconv";
  }
  std::string Session(std::string_view token_hash) const {
    return prefix_ + ":{s:" + std::string(token_hash) + "}:session";
  }
  std::string SessionTombstone(std::string_view token_hash) const {
    return prefix_ + ":{s:" + std::string(token_hash) + "}:revoked";
  }
  // The auth rate-limit buckets (RedisAuthRateLimits): of a client network
  // ("192.0.2.1/32", "2001:db8::/64") and of an account's failed logins (the
  // lower-case username), each its own slot.
  std::string AuthNetwork(std::string_view network) const {
    return prefix_ + ":{an:" + std::string(network) + "}:authrate";
  }
  std::string LoginFailures(std::string_view account) const {
    return prefix_ + ":{af:" + std::string(account) + "}:loginfail";
  }
  std::string Group(uint64_t id) const { return prefix_ + ":{g" + std::to_string(id) + "}:group"; }
  std::string GroupVersion(uint64_t id) const {
    return prefix_ + ":{g" + std::to_string(id) + "}:version";
  }

 private:
  std::string prefix_;
  uint32_t partitions_;
};

}  // namespace parley::state

#include "state/redis/redis_state_options.h"

#include "redis/partition.h"

namespace parley::state {

Status Validate(const RedisStateOptions& o) {
  auto bad = [](const char* field) {
    return Status::InvalidArgument(std::string("redis state option ") + field + " is out of range");
  };
  if (o.key_prefix.empty() || o.key_prefix.size() > 64) return bad("key_prefix");
  if (o.partitions == 0 || o.partitions > redis::kMaxPartitions) return bad("partitions");
  if (o.node_id.empty() || o.node_id.size() > 128) return bad("node_id");
  if (o.lease_ttl_ms < 100) return bad("lease_ttl_ms");
  if (o.lease_retry_min_ms == 0 || o.lease_retry_max_ms < o.lease_retry_min_ms) {
    return bad("lease_retry_min_ms/lease_retry_max_ms");
  }
  if (o.lease_want_ttl_ms < 2 * o.lease_retry_max_ms) return bad("lease_want_ttl_ms");
  if (o.max_claims == 0) return bad("max_claims");
  if (o.claim_ttl_ms < 100) return bad("claim_ttl_ms");
  if (o.claim_poll_min_ms == 0 || o.claim_poll_max_ms < o.claim_poll_min_ms) {
    return bad("claim_poll_min_ms/claim_poll_max_ms");
  }
  if (o.claim_waiter_stale_ms < 4 * o.claim_poll_max_ms) return bad("claim_waiter_stale_ms");
  if (o.idempotency_ttl_ms < 1000) return bad("idempotency_ttl_ms");
  if (o.session_cache_ttl_ms == 0) return bad("session_cache_ttl_ms");
  if (o.session_tombstone_ttl_ms < 1000) return bad("session_tombstone_ttl_ms");
  if (o.group_cache_ttl_ms == 0) return bad("group_cache_ttl_ms");
  if (o.group_version_ttl_ms < 1000) return bad("group_version_ttl_ms");
  if (o.recent_per_conv == 0) return bad("recent_per_conv");
  if (o.recent_conv_max_bytes == 0) return bad("recent_conv_max_bytes");
  if (o.recent_idle_ttl_ms < 1000) return bad("recent_idle_ttl_ms");
  if (o.new_conversation_keep_ms < 60'000) return bad("new_conversation_keep_ms");
  if (o.new_conversations_max == 0) return bad("new_conversations_max");
  return Status::Ok();
}

}  // namespace parley::state

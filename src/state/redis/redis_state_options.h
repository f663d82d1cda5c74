// Limits and timings of the Redis-backed state seams (cluster mode). Every
// logic node of a cluster must use the same key_prefix and partitions.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace parley::state {

struct RedisStateOptions {
  // First part of every key ("parley" in a cluster; tests use their own).
  std::string key_prefix = "parley";
  // Partitions of the conversation space (fixed at cluster creation); keys of
  // one partition share a hash tag.
  uint32_t partitions = 16;
  // This process's name in lease ids and claim tokens (a random suffix keeps
  // incarnations apart).
  std::string node_id = "logic";

  // --- sequence allocator ---
  // An open seq lease expires this long after it was taken: a holder that
  // died frees its conversations after at most this
  // (cluster.seq_lease_ttl_ms). A holder still appending after it is stopped
  // by the log's seq fence.
  uint32_t lease_ttl_ms = 2'000;
  // A lease held by another process is asked for again after a backoff that
  // doubles from min to max (with jitter).
  uint32_t lease_retry_min_ms = 1;
  uint32_t lease_retry_max_ms = 20;
  // A process waiting for a held lease reserves the next turn for this long
  // (renewed on each retry), so that a busy holder cannot starve it.
  uint32_t lease_want_ttl_ms = 500;
  // While another process has reserved the next turn, a freed lease is
  // still handed to the next local waiter this many times (keeping a
  // process's own order), then goes to the reserving process.
  uint32_t lease_handovers_while_wanted = 1;
  // Added to the store's last seq when counters are seeded in a Redis that
  // lost its data, so that no seq acknowledged before the loss (but not yet
  // persisted) is handed out again.
  uint64_t seq_gap_after_loss = 1'000'000;
  // Conversations per Acquire.
  uint32_t max_claims = 4096;

  // --- idempotency records ---
  // A claim whose owner neither completes nor releases it frees after this
  // (cluster.send_claim_ttl_ms). An owner still appending after it is
  // stopped by the log's fence on accepted sends, so a send is never stored
  // twice.
  uint32_t claim_ttl_ms = 2'000;
  // A claim waiting for another owner re-checks after a backoff doubling
  // from min to max; a waiter silent for claim_waiter_stale_ms loses its
  // place in line (it died). Must exceed claim_poll_max_ms comfortably.
  uint32_t claim_poll_min_ms = 1;
  uint32_t claim_poll_max_ms = 50;
  uint32_t claim_waiter_stale_ms = 2'000;
  // Acked records are kept this long (storage.idempotency_ttl_ms).
  int64_t idempotency_ttl_ms = 24LL * 3600 * 1000;

  // --- sessions and groups (caches in front of the Store) ---
  uint32_t session_cache_ttl_ms = 600'000;
  // How long a revoked session's tombstone is kept; a lookup slower than
  // half of it never fills the cache.
  uint32_t session_tombstone_ttl_ms = 60'000;
  uint32_t group_cache_ttl_ms = 600'000;
  // A group's version key lives this long after its last change; a lookup
  // slower than half of it never fills the cache.
  uint32_t group_version_ttl_ms = 3'600'000;

  // --- recent window ---
  // Messages kept per conversation (storage.recent_per_conv).
  uint32_t recent_per_conv = 256;
  // Bytes of serialized messages kept per conversation
  // (storage.recent_conv_max_bytes); the newest message always stays.
  uint32_t recent_conv_max_bytes = 256 * 1024;
  // A conversation's window is dropped after this long without a message.
  uint32_t recent_idle_ttl_ms = 900'000;
  // A private conversation is "new" for this long after its first message
  // (at least a minute: the store lags by the persist consumer).
  uint32_t new_conversation_keep_ms = 120'000;
  // New conversations kept per user (the newest).
  uint32_t new_conversations_max = 1'000;
};

// INVALID_ARGUMENT naming the first bad field.
Status Validate(const RedisStateOptions& o);

}  // namespace parley::state

// The Lua scripts RedisMessageLog runs, one partition (one hash tag) per
// call; each is atomic in Redis. Immutable.
#pragma once

#include "redis/redis_client.h"

namespace parley::queue::log_scripts {

// The prefixes of the error replies of a rejected fence: a seq out of turn,
// or a send whose record says it was accepted before.
inline constexpr std::string_view kSeqFenceError = "SEQFENCE";
inline constexpr std::string_view kAcceptedFenceError = "ACCEPTED";

// Append. KEYS: log, then per message its seq key and its sent key ("" for
// none). ARGV: fence ("1"/"0"), idempotency TTL ms, then per message: seq,
// payload, sent record value. With the fence on, every message with seq > 0
// must have seq == (its counter, or the previous message of its conversation
// in this batch) + 1, else nothing is written and the reply is an error
// "SEQFENCE ..."; and a message whose sent record already holds an ack ("A"),
// or appears twice in the batch, writes nothing either: "ACCEPTED ...". Then
// per message: XADD log 0-* m payload, SET the seq counter (fence on,
// seq > 0), SET the sent record PX ttl (when given). Returns the number of
// entries added.
const redis::Script& Append();

// Group creation. KEYS: log. ARGV: group, "1" to start at the tail. Creates
// the stream when absent; ENTRIESREAD keeps XINFO's lag exact on a trimmed
// stream. Returns 1 if created, 0 if the group existed.
const redis::Script& CreateGroup();

// Lag snapshot. KEYS: log. Returns {XLEN, {group, undelivered + pending,
// ...}}.
const redis::Script& LagSnapshot();

// Trim. KEYS: log. ARGV: the groups that must exist before anything is
// trimmed. XTRIM MINID to the lowest id some group still needs (its oldest
// pending entry, or its last delivered one). Returns the number trimmed.
const redis::Script& Trim();

}  // namespace parley::queue::log_scripts

// IdempotencyStore over Redis (cluster mode), shared by every logic node.
// The record of (from, client_id) is the sender's, whatever the send's
// conversation (a client id is unique per sender, PROTOCOL.md):
// "<prefix>:{u<from>}:sent:<client_id>" (redis::SentKey),
// holding "P<token>" while a claim is pending (expiring after claim_ttl_ms)
// or "A" + the serialized first ack (expiring after idempotency_ttl_ms). The
// message log's append script writes the "A" record in the same step as the
// message, so a lost reply never leaves an accepted send without its record;
// Complete writes it again (harmless: the same ack).
//
// A claim of a pending key waits in line: its token is queued in Redis (a
// list beside the record), and it asks again with backoff until the key is
// acked (it gets the ack) or free with it at the head of the line (it owns
// the key). So claims of one key are served in the order they reached Redis,
// whichever node made them. A waiter that stops asking (its process died)
// loses its place after claim_waiter_stale_ms; an owner that dies frees the
// key after claim_ttl_ms. Release deletes the record only while it is still
// our pending claim: an acked record is never removed. A release that fails
// with the connection, and the release of a claim whose reply was lost with
// it (Redis may have made the claim), are retried until Redis answers or the
// claim would have expired anyway, so that the retries of a send do not
// wait claim_ttl_ms behind a claim nobody holds after Redis restarts.
//
// Thread-safe. Callbacks run on the Redis client's strand or a timer of `ex`,
// never under a lock. The object may be destroyed while calls are in flight
// (they hold its state).
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "redis/redis_client.h"
#include "state/idempotency_store.h"
#include "state/redis/redis_state_options.h"

namespace parley::state {

class RedisIdempotencyStore final : public IdempotencyStore {
 public:
  // `options` must be valid (Validate); `ex` runs the waiters' timers.
  RedisIdempotencyStore(std::shared_ptr<redis::RedisClient> client, boost::asio::any_io_executor ex,
                        RedisStateOptions options);
  ~RedisIdempotencyStore() override;

  void Claim(SendKey key, int64_t now_ms, Callback<StatusOr<state::Claim>> done) override;
  void Complete(std::vector<std::pair<SendKey, rpc::SendReply>> acks,
                Callback<Status> done) override;
  void Release(std::vector<SendKey> keys, Callback<Status> done) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace parley::state

// IdempotencyStore: the record (sender, client id) -> first ack, shared by
// every logic node, so that a resend through any node gets the first ack
// unchanged and is never numbered twice. Records are kept for at least the
// configured TTL. Embedded mode: EmbeddedIdempotencyStore; cluster mode:
// Redis (SET NX with expiry).
//
// Every method returns at once and calls `done` exactly once, on a thread of
// the implementation (possibly the caller's, before returning).
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/callback.h"
#include "common/status.h"
#include "parley/logic.pb.h"

namespace parley::state {

// Identifies a send: (from, client_id). `conv` is the send's conversation; it
// only routes the record (in the cluster, to the conversation's partition) and
// is not part of the key's identity.
struct SendKey {
  SendKey() = default;
  SendKey(uint64_t from, std::string client_id, std::string conv = {})
      : from(from), client_id(std::move(client_id)), conv(std::move(conv)) {}

  uint64_t from = 0;
  std::string client_id;
  std::string conv;
  bool operator==(const SendKey& o) const { return from == o.from && client_id == o.client_id; }
};

struct Claim {
  // true: the caller now owns the key and must Complete or Release it.
  // false: a send with this key was acknowledged before; `first_ack` is its
  // ack.
  bool owned = false;
  rpc::SendReply first_ack;
};

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;

  // Claims the key for a new send. While another caller owns the key, the
  // claim waits: it gets the first ack once that caller completes, or the
  // key once it releases. Claims of one key are served in call order.
  virtual void Claim(SendKey key, int64_t now_ms, Callback<StatusOr<Claim>> done) = 0;
  // The owned sends are durable: each key's ack becomes its first ack.
  virtual void Complete(std::vector<std::pair<SendKey, rpc::SendReply>> acks,
                        Callback<Status> done) = 0;
  // The owned sends were not accepted: the keys are free again.
  virtual void Release(std::vector<SendKey> keys, Callback<Status> done) = 0;
};

}  // namespace parley::state

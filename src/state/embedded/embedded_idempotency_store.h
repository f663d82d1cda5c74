// Idempotency records in this process's memory, backed by the store for what
// memory no longer holds: embedded mode. The store is the durable record of
// every accepted message with its (sender, client id); memory holds the
// records of the last TTL (at most max_entries of them). When memory may be
// missing a record within the TTL (evicted for size, or not all loaded at
// start), a miss is checked against the store before the key is granted.
//
// Thread-safe; one mutex guards the records. Callbacks run outside the lock,
// on the caller's thread or a store thread.
#pragma once

#include <deque>
#include <mutex>
#include <unordered_map>

#include "state/idempotency_store.h"
#include "store/store.h"

namespace parley::state {

class EmbeddedIdempotencyStore final : public IdempotencyStore {
 public:
  // `store` must outlive this object.
  EmbeddedIdempotencyStore(store::Store& store, int64_t ttl_ms, size_t max_entries);

  // Loads the records of the last TTL from the store. Call once before use,
  // after the message log was drained into the store.
  void Prime(int64_t now_ms, Callback<Status> done);

  void Claim(SendKey key, int64_t now_ms, Callback<StatusOr<state::Claim>> done) override;
  void Complete(std::vector<std::pair<SendKey, rpc::SendReply>> acks,
                Callback<Status> done) override;
  void Release(std::vector<SendKey> keys, Callback<Status> done) override;

  // Records held in memory (for tests and metrics).
  size_t size() const;

 private:
  using Waiter = Callback<StatusOr<state::Claim>>;
  struct Record {
    bool done = false;  // false: owned by a send in flight
    rpc::SendReply ack;
    std::deque<Waiter> waiters;  // claims waiting for the owner
  };
  static std::string MapKey(const SendKey& key);
  // A claim of a key memory holds: queues `done` behind the owner, or answers
  // it with the first ack (after unlocking). False when memory has no record.
  bool AnswerFromMemory(std::unique_lock<std::mutex>& lock, const std::string& key, Waiter& done);
  void InsertDone(const std::string& key, rpc::SendReply ack, int64_t ts_ms);
  void Expire(int64_t now_ms);  // with mu_ held

  store::Store& store_;
  const int64_t ttl_ms_;
  const size_t max_entries_;

  mutable std::mutex mu_;
  // State below is guarded by mu_.
  std::unordered_map<std::string, Record> records_;
  std::deque<std::pair<int64_t, std::string>> done_order_;  // (ts, key), oldest first
  bool lossy_ = false;
  int64_t now_ms_ = 0;  // the latest time seen by Claim
};

}  // namespace parley::state

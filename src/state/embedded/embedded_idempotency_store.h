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
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // One record per key held for the TTL (up to max_entries, 2,000,000 by
  // default), so both are kept small: the key is not re-formatted per call,
  // the ack is kept as its fields (its client id is the key's), and an empty
  // waiter list allocates nothing. See BM_IdempotencyMemoryPerRecord.
  struct Key {
    uint64_t from;
    std::string client_id;
  };
  struct KeyView {
    uint64_t from;
    std::string_view client_id;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const KeyView& k) const {
      return std::hash<std::string_view>{}(k.client_id) ^ (k.from * 0x9E3779B97F4A7C15ull);
    }
    size_t operator()(const Key& k) const { return (*this)(KeyView{k.from, k.client_id}); }
  };
  struct KeyEq {
    using is_transparent = void;
    static KeyView View(const Key& k) { return {k.from, k.client_id}; }
    static KeyView View(const KeyView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      KeyView x = View(a), y = View(b);
      return x.from == y.from && x.client_id == y.client_id;
    }
  };
  struct Record {
    bool done = false;  // false: owned by a send in flight
    // The first ack (when done), less its client id.
    uint64_t msg_id = 0;
    uint64_t seq = 0;
    int64_t ts = 0;
    std::string conv;
    std::vector<Waiter> waiters;  // claims waiting for the owner, in call order
  };
  using Records = std::unordered_map<Key, Record, KeyHash, KeyEq>;

  static rpc::SendReply AckOf(const Key& key, const Record& r);
  // A claim of a key memory holds: queues `done` behind the owner, or answers
  // it with the first ack (after unlocking). False when memory has no record.
  bool AnswerFromMemory(std::unique_lock<std::mutex>& lock, KeyView key, Waiter& done);
  // Marks the record done with `ack` and queues it for expiry (once).
  void MarkDone(Records::iterator it, const rpc::SendReply& ack);
  void Expire(int64_t now_ms);  // with mu_ held

  store::Store& store_;
  const int64_t ttl_ms_;
  const size_t max_entries_;

  mutable std::mutex mu_;
  // State below is guarded by mu_.
  Records records_;
  // (ts, the record's key), oldest first; one entry per done record, whose
  // node (and so the key) stays put until Expire erases it.
  std::deque<std::pair<int64_t, const Key*>> done_order_;
  bool lossy_ = false;
  int64_t now_ms_ = 0;  // the latest time seen by Claim
};

}  // namespace parley::state

// Remembers the ack of every (sender, client id) for at least the TTL, so a
// resend gets the first ack unchanged. Entries are pending from acceptance
// until the message is durable; resends arriving meanwhile wait on it.
// Not thread-safe: owned by the logic strand.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/callback.h"
#include "parley/logic.pb.h"
#include "store/store.h"

namespace parley::logic {

class IdempotencyCache {
 public:
  IdempotencyCache(int64_t ttl_ms, size_t max_entries)
      : ttl_ms_(ttl_ms), max_entries_(max_entries) {}

  static std::string Key(uint64_t from, const std::string& client_id) {
    return std::to_string(from) + ':' + client_id;
  }

  enum class Lookup { kMiss, kDone, kPending };
  // kDone fills `ack`; kPending queues `waiter` to get the ack (or error) later.
  Lookup Find(const std::string& key, rpc::SendReply* ack, Callback<rpc::SendReply>* waiter);

  // A new send under `key` is in flight.
  void AddPending(const std::string& key, int64_t now_ms);
  // The send is durable: remember its ack; returns the waiters to answer.
  std::vector<Callback<rpc::SendReply>> Complete(const std::string& key, const rpc::SendReply& ack);
  // The send failed: forget it; returns the waiters to answer with the error.
  std::vector<Callback<rpc::SendReply>> Fail(const std::string& key);
  // A completed ack known from the store (start-up priming, lookups).
  void Insert(const store::SentKey& sent);

  // True when keys within the TTL may be missing (evicted for size, or not
  // all loaded at start): a miss must then be checked against the store.
  bool lossy() const { return lossy_; }
  void set_lossy(bool lossy) { lossy_ = lossy; }
  size_t size() const { return entries_.size(); }

  // Drops entries older than the TTL, and the oldest beyond max_entries.
  void Expire(int64_t now_ms);

 private:
  struct Entry {
    bool pending = true;
    int64_t added_ms = 0;
    rpc::SendReply ack;
    std::vector<Callback<rpc::SendReply>> waiters;
  };
  int64_t ttl_ms_;
  size_t max_entries_;
  bool lossy_ = false;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<int64_t, std::string>> order_;  // (added_ms, key), oldest first
};

}  // namespace parley::logic

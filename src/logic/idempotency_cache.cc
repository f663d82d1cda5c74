#include "logic/idempotency_cache.h"

namespace parley::logic {

IdempotencyCache::Lookup IdempotencyCache::Find(const std::string& key, rpc::SendReply* ack,
                                                Callback<rpc::SendReply>* waiter) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return Lookup::kMiss;
  if (it->second.pending) {
    it->second.waiters.push_back(std::move(*waiter));
    return Lookup::kPending;
  }
  *ack = it->second.ack;
  return Lookup::kDone;
}

void IdempotencyCache::AddPending(const std::string& key, int64_t now_ms) {
  Entry& e = entries_[key];
  e.pending = true;
  e.added_ms = now_ms;
  order_.emplace_back(now_ms, key);
}

std::vector<Callback<rpc::SendReply>> IdempotencyCache::Complete(const std::string& key,
                                                                 const rpc::SendReply& ack) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  it->second.pending = false;
  it->second.ack = ack;
  return std::move(it->second.waiters);
}

std::vector<Callback<rpc::SendReply>> IdempotencyCache::Fail(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  auto waiters = std::move(it->second.waiters);
  entries_.erase(it);
  return waiters;
}

void IdempotencyCache::Insert(const store::SentKey& sent) {
  std::string key = Key(sent.from, sent.client_id);
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) return;
  Entry& e = it->second;
  e.pending = false;
  e.added_ms = sent.ts;
  e.ack.set_client_id(sent.client_id);
  e.ack.set_msg_id(sent.msg_id);
  e.ack.set_conv(sent.conv);
  e.ack.set_seq(sent.seq);
  e.ack.set_ts(sent.ts);
  order_.emplace_back(sent.ts, std::move(key));
}

void IdempotencyCache::Expire(int64_t now_ms) {
  while (!order_.empty()) {
    auto& [added, key] = order_.front();
    bool too_old = added < now_ms - ttl_ms_;
    bool too_many = entries_.size() > max_entries_;
    if (!too_old && !too_many) break;
    auto it = entries_.find(key);
    // A key re-added later has a newer entry; only drop the entry this
    // record belongs to, and never a pending one.
    if (it != entries_.end() && it->second.added_ms == added && !it->second.pending) {
      entries_.erase(it);
      if (!too_old) lossy_ = true;
    } else if (it != entries_.end() && it->second.pending && too_many) {
      break;
    }
    order_.pop_front();
  }
}

}  // namespace parley::logic

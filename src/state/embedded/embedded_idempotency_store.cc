#include "state/embedded/embedded_idempotency_store.h"

namespace parley::state {

EmbeddedIdempotencyStore::EmbeddedIdempotencyStore(store::Store& store, int64_t ttl_ms,
                                                   size_t max_entries)
    : store_(store), ttl_ms_(ttl_ms), max_entries_(max_entries) {}

std::string EmbeddedIdempotencyStore::MapKey(const SendKey& key) {
  return std::to_string(key.from) + ':' + key.client_id;
}

namespace {
rpc::SendReply AckOf(const store::SentKey& sent) {
  rpc::SendReply ack;
  ack.set_client_id(sent.client_id);
  ack.set_msg_id(sent.msg_id);
  ack.set_conv(sent.conv);
  ack.set_seq(sent.seq);
  ack.set_ts(sent.ts);
  return ack;
}
}  // namespace

void EmbeddedIdempotencyStore::Prime(int64_t now_ms, Callback<Status> done) {
  store_.LoadRecentSent(
      now_ms - ttl_ms_, static_cast<uint32_t>(std::min<size_t>(max_entries_, UINT32_MAX)),
      [this, now_ms, done = std::move(done)](StatusOr<std::vector<store::SentKey>> keys) {
        if (!keys.ok()) return done(keys.status());
        {
          std::lock_guard lock(mu_);
          now_ms_ = std::max(now_ms_, now_ms);
          // Newest first from the store; insert oldest first so expiry order holds.
          for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
            InsertDone(MapKey({it->from, it->client_id}), AckOf(*it), it->ts);
          }
          lossy_ = keys->size() >= max_entries_;
        }
        done(Status::Ok());
      });
}

size_t EmbeddedIdempotencyStore::size() const {
  std::lock_guard lock(mu_);
  return records_.size();
}

void EmbeddedIdempotencyStore::InsertDone(const std::string& key, rpc::SendReply ack,
                                          int64_t ts_ms) {
  Record& r = records_[key];
  r.done = true;
  r.ack = std::move(ack);
  done_order_.emplace_back(ts_ms, key);
}

bool EmbeddedIdempotencyStore::AnswerFromMemory(std::unique_lock<std::mutex>& lock,
                                                const std::string& key, Waiter& done) {
  auto it = records_.find(key);
  if (it == records_.end()) return false;
  if (!it->second.done) {
    it->second.waiters.push_back(std::move(done));
    return true;
  }
  rpc::SendReply ack = it->second.ack;
  lock.unlock();
  done(state::Claim{false, std::move(ack)});
  return true;
}

void EmbeddedIdempotencyStore::Claim(SendKey key, int64_t now_ms,
                                     Callback<StatusOr<state::Claim>> done) {
  std::string k = MapKey(key);
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  if (AnswerFromMemory(lock, k, done)) return;
  if (!lossy_) {
    records_[k];  // pending, owned by the caller
    lock.unlock();
    return done(state::Claim{true, {}});
  }
  lock.unlock();
  // Memory may have forgotten this key: the store knows every accepted send.
  store_.FindSent(
      key.from, key.client_id,
      [this, k = std::move(k), done = std::move(done)](StatusOr<store::SentKey> found) mutable {
        if (!found.ok() && !found.status().IsNotFound()) return done(found.status());
        std::unique_lock lock(mu_);
        // Another claim of the key may have landed meanwhile.
        if (AnswerFromMemory(lock, k, done)) return;
        if (found.ok()) {
          rpc::SendReply ack = AckOf(*found);
          InsertDone(k, ack, found->ts);
          lock.unlock();
          return done(state::Claim{false, std::move(ack)});
        }
        records_[k];  // pending, owned by the caller
        lock.unlock();
        done(state::Claim{true, {}});
      });
}

void EmbeddedIdempotencyStore::Complete(std::vector<std::pair<SendKey, rpc::SendReply>> acks,
                                        Callback<Status> done) {
  std::vector<std::pair<Waiter, rpc::SendReply>> answers;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, ack] : acks) {
      std::string k = MapKey(key);
      Record& r = records_[k];
      for (Waiter& w : r.waiters) answers.emplace_back(std::move(w), ack);
      r.waiters.clear();
      r.done = true;
      r.ack = std::move(ack);
      done_order_.emplace_back(r.ack.ts(), std::move(k));
    }
    Expire(now_ms_);
  }
  done(Status::Ok());
  for (auto& [w, ack] : answers) w(state::Claim{false, std::move(ack)});
}

void EmbeddedIdempotencyStore::Release(std::vector<SendKey> keys, Callback<Status> done) {
  std::vector<Waiter> new_owners;
  {
    std::lock_guard lock(mu_);
    for (const SendKey& key : keys) {
      auto it = records_.find(MapKey(key));
      if (it == records_.end() || it->second.done) continue;
      if (it->second.waiters.empty()) {
        records_.erase(it);
        continue;
      }
      // The next claim in line owns the key now.
      new_owners.push_back(std::move(it->second.waiters.front()));
      it->second.waiters.pop_front();
    }
  }
  done(Status::Ok());
  for (Waiter& w : new_owners) w(state::Claim{true, {}});
}

void EmbeddedIdempotencyStore::Expire(int64_t now_ms) {
  while (!done_order_.empty() &&
         (done_order_.front().first < now_ms - ttl_ms_ || done_order_.size() > max_entries_)) {
    bool by_size = done_order_.front().first >= now_ms - ttl_ms_;
    auto it = records_.find(done_order_.front().second);
    if (it != records_.end() && it->second.done) records_.erase(it);
    done_order_.pop_front();
    // A record within the TTL dropped for size: the store must be asked from now on.
    if (by_size) lossy_ = true;
  }
}

}  // namespace parley::state

#include "state/embedded/embedded_idempotency_store.h"

namespace parley::state {

EmbeddedIdempotencyStore::EmbeddedIdempotencyStore(store::Store& store, int64_t ttl_ms,
                                                   size_t max_entries)
    : store_(store), ttl_ms_(ttl_ms), max_entries_(max_entries) {}

namespace {
rpc::SendReply MakeAck(const std::string& client_id, uint64_t msg_id, const std::string& conv,
                       uint64_t seq, int64_t ts) {
  rpc::SendReply ack;
  ack.set_client_id(client_id);
  ack.set_msg_id(msg_id);
  ack.set_conv(conv);
  ack.set_seq(seq);
  ack.set_ts(ts);
  return ack;
}

rpc::SendReply AckOfSent(const store::SentKey& sent) {
  return MakeAck(sent.client_id, sent.msg_id, sent.conv, sent.seq, sent.ts);
}
}  // namespace

rpc::SendReply EmbeddedIdempotencyStore::AckOf(const Key& key, const Record& r) {
  return MakeAck(key.client_id, r.msg_id, r.conv, r.seq, r.ts);
}

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
            auto [rec, fresh] = records_.try_emplace(Key{it->from, it->client_id});
            if (fresh) MarkDone(rec, AckOfSent(*it));
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

void EmbeddedIdempotencyStore::MarkDone(Records::iterator it, const rpc::SendReply& ack) {
  Record& r = it->second;
  r.msg_id = ack.msg_id();
  r.seq = ack.seq();
  r.ts = ack.ts();
  r.conv = ack.conv();
  if (r.done) return;  // already queued for expiry
  r.done = true;
  done_order_.emplace_back(r.ts, &it->first);
}

bool EmbeddedIdempotencyStore::AnswerFromMemory(std::unique_lock<std::mutex>& lock, KeyView key,
                                                Waiter& done) {
  auto it = records_.find(key);
  if (it == records_.end()) return false;
  if (!it->second.done) {
    it->second.waiters.push_back(std::move(done));
    return true;
  }
  rpc::SendReply ack = AckOf(it->first, it->second);
  lock.unlock();
  done(state::Claim{false, std::move(ack)});
  return true;
}

void EmbeddedIdempotencyStore::Claim(SendKey key, int64_t now_ms,
                                     Callback<StatusOr<state::Claim>> done) {
  std::unique_lock lock(mu_);
  now_ms_ = std::max(now_ms_, now_ms);
  if (AnswerFromMemory(lock, KeyView{key.from, key.client_id}, done)) return;
  if (!lossy_) {
    records_.try_emplace(Key{key.from, std::move(key.client_id)});  // pending, owned by the caller
    lock.unlock();
    return done(state::Claim{true, {}});
  }
  lock.unlock();
  // Memory may have forgotten this key: the store knows every accepted send.
  uint64_t from = key.from;
  std::string client_id = key.client_id;
  store_.FindSent(from, std::move(client_id),
                  [this, key = Key{from, std::move(key.client_id)},
                   done = std::move(done)](StatusOr<store::SentKey> found) mutable {
                    if (!found.ok() && !found.status().IsNotFound()) return done(found.status());
                    std::unique_lock lock(mu_);
                    // Another claim of the key may have landed meanwhile.
                    if (AnswerFromMemory(lock, KeyView{key.from, key.client_id}, done)) return;
                    if (found.ok()) {
                      rpc::SendReply ack = AckOfSent(*found);
                      MarkDone(records_.try_emplace(std::move(key)).first, ack);
                      lock.unlock();
                      return done(state::Claim{false, std::move(ack)});
                    }
                    records_.try_emplace(std::move(key));  // pending, owned by the caller
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
      auto it = records_.find(KeyView{key.from, key.client_id});
      if (it == records_.end()) it = records_.try_emplace(Key{key.from, key.client_id}).first;
      for (Waiter& w : it->second.waiters) answers.emplace_back(std::move(w), ack);
      it->second.waiters = {};  // frees what a crowd of waiters grew
      MarkDone(it, ack);
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
      auto it = records_.find(KeyView{key.from, key.client_id});
      if (it == records_.end() || it->second.done) continue;
      auto& waiters = it->second.waiters;
      if (waiters.empty()) {
        records_.erase(it);
        continue;
      }
      // The next claim in line owns the key now (waiters are few: a vector's
      // front erase is cheaper than a deque's allocation per record).
      new_owners.push_back(std::move(waiters.front()));
      waiters.erase(waiters.begin());
    }
  }
  done(Status::Ok());
  for (Waiter& w : new_owners) w(state::Claim{true, {}});
}

void EmbeddedIdempotencyStore::Expire(int64_t now_ms) {
  while (!done_order_.empty() &&
         (done_order_.front().first < now_ms - ttl_ms_ || done_order_.size() > max_entries_)) {
    bool by_size = done_order_.front().first >= now_ms - ttl_ms_;
    // Each done record has exactly one entry here and nothing else erases a
    // done record, so the key pointer is still its node's.
    records_.erase(records_.find(*done_order_.front().second));
    done_order_.pop_front();
    // A record within the TTL dropped for size: the store must be asked from now on.
    if (by_size) lossy_ = true;
  }
}

}  // namespace parley::state

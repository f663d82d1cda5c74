#include "state/embedded/cached_session_store.h"

namespace parley::state {

CachedSessionStore::CachedSessionStore(store::Store& store, size_t max_cached)
    : store_(store), max_cached_(max_cached) {}

void CachedSessionStore::Create(Session session, Callback<Status> done) {
  store::SessionRecord record{session.token_hash, session.user_id, session.expires_at};
  store_.CreateSession(std::move(record), std::move(done));
}

void CachedSessionStore::Release(const std::string& token_hash) {
  auto it = in_flight_.find(token_hash);
  if (it != in_flight_.end() && it->second.lookups == 0 && it->second.revocations == 0) {
    in_flight_.erase(it);
  }
}

void CachedSessionStore::Find(std::string token_hash, Callback<StatusOr<Session>> done) {
  std::unique_lock lock(mu_);
  if (auto it = cache_.find(token_hash); it != cache_.end()) {
    Session s = it->second;
    lock.unlock();
    return done(std::move(s));
  }
  InFlight& entry = in_flight_[token_hash];
  ++entry.lookups;
  uint64_t events_before = entry.revocation_events;
  lock.unlock();
  store_.FindSession(token_hash, [this, token_hash, events_before,
                                  done = std::move(done)](StatusOr<store::SessionRecord> found) {
    bool raced;
    {
      std::lock_guard lock(mu_);
      // The entry outlives the lookup: it counts it.
      InFlight& entry = in_flight_[token_hash];
      --entry.lookups;
      raced = entry.revocations > 0 || entry.revocation_events != events_before;
      if (found.ok() && !raced) {
        if (cache_.size() >= max_cached_) cache_.clear();
        cache_[token_hash] = Session{found->token_hash, found->user_id, found->expires_at};
      }
      Release(token_hash);
    }
    // A revocation of this token overlapped the lookup: the row read may be
    // one it deleted, and this answer may come after its `done`.
    if (raced) return done(Status::NotFound("no such session"));
    if (!found.ok()) {
      if (found.status().IsNotFound()) return done(Status::NotFound("no such session"));
      return done(found.status());
    }
    done(Session{found->token_hash, found->user_id, found->expires_at});
  });
}

void CachedSessionStore::Revoke(std::string token_hash, Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    cache_.erase(token_hash);
    InFlight& entry = in_flight_[token_hash];
    ++entry.revocations;
    ++entry.revocation_events;
  }
  store_.DeleteSession(token_hash, [this, token_hash, done = std::move(done)](Status s) {
    {
      std::lock_guard lock(mu_);
      InFlight& entry = in_flight_[token_hash];
      --entry.revocations;
      // A lookup that read the row before the delete may answer after this:
      // counting the end too makes it see the race.
      ++entry.revocation_events;
      cache_.erase(token_hash);
      Release(token_hash);
    }
    done(std::move(s));
  });
}

}  // namespace parley::state

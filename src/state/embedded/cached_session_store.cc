#include "state/embedded/cached_session_store.h"

namespace parley::state {

CachedSessionStore::CachedSessionStore(store::Store& store, size_t max_cached)
    : store_(store), max_cached_(max_cached) {}

void CachedSessionStore::Create(Session session, Callback<Status> done) {
  store::SessionRecord record{session.token_hash, session.user_id, session.expires_at};
  store_.CreateSession(std::move(record), std::move(done));
}

void CachedSessionStore::Find(std::string token_hash, Callback<StatusOr<Session>> done) {
  std::unique_lock lock(mu_);
  if (auto it = cache_.find(token_hash); it != cache_.end()) {
    Session s = it->second;
    lock.unlock();
    return done(std::move(s));
  }
  uint64_t revocations_before = revocations_;
  lock.unlock();
  store_.FindSession(token_hash, [this, token_hash, revocations_before,
                                  done = std::move(done)](StatusOr<store::SessionRecord> found) {
    if (!found.ok()) {
      if (found.status().IsNotFound()) return done(Status::NotFound("no such session"));
      return done(found.status());
    }
    Session s{found->token_hash, found->user_id, found->expires_at};
    {
      std::lock_guard lock(mu_);
      // A revocation that started or ended during this lookup may have deleted
      // the row: then the answer is only as old as the lookup, never cached.
      bool raced = revocations_ != revocations_before || revoking_.contains(token_hash);
      if (!raced) {
        if (cache_.size() >= max_cached_) cache_.clear();
        cache_[token_hash] = s;
      }
    }
    done(std::move(s));
  });
}

void CachedSessionStore::Revoke(std::string token_hash, Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    cache_.erase(token_hash);
    ++revoking_[token_hash];
    ++revocations_;
  }
  store_.DeleteSession(token_hash, [this, token_hash, done = std::move(done)](Status s) {
    {
      std::lock_guard lock(mu_);
      if (--revoking_[token_hash] == 0) revoking_.erase(token_hash);
      cache_.erase(token_hash);
      // A lookup that read the row before the delete may answer after this:
      // counting the end too keeps it from caching what it read.
      ++revocations_;
    }
    done(std::move(s));
  });
}

}  // namespace parley::state

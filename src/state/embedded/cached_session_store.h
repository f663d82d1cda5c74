// Sessions in the store, with a cache in front: embedded mode. The cache is
// coherent because every logic facade of the process shares this one object:
// Revoke drops the entry before the store's delete, and a lookup that
// overlapped a revocation of its token (started before it ended) answers
// NOT_FOUND and never refills the cache: what it read may predate the delete,
// and it may answer after Revoke's `done`.
//
// Thread-safe; one mutex guards the cache. Callbacks run outside the lock, on
// the caller's thread or a store thread. `store` must outlive this object.
#pragma once

#include <mutex>
#include <unordered_map>

#include "state/session_store.h"
#include "store/store.h"

namespace parley::state {

class CachedSessionStore final : public SessionStore {
 public:
  // Holds at most `max_cached` sessions; cleared wholesale when full
  // (sessions are cheap to reload).
  CachedSessionStore(store::Store& store, size_t max_cached);

  void Create(Session session, Callback<Status> done) override;
  void Find(std::string token_hash, Callback<StatusOr<Session>> done) override;
  void Revoke(std::string token_hash, Callback<Status> done) override;

 private:
  // What is in flight for one token: kept while a store lookup or a
  // revocation of it is, so the map holds only tokens being worked on.
  struct InFlight {
    int lookups = 0;
    int revocations = 0;
    uint64_t revocation_events = 0;  // revocations of this token started or ended
  };
  void Release(const std::string& token_hash);  // requires mu_

  store::Store& store_;
  const size_t max_cached_;

  std::mutex mu_;
  // State below is guarded by mu_.
  std::unordered_map<std::string, Session> cache_;
  std::unordered_map<std::string, InFlight> in_flight_;
};

}  // namespace parley::state

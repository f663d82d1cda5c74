// SessionStore over the Store with a Redis cache in front (cluster mode: the
// Store is MariaDB), shared by every logic node.
//
// Create writes the Store, then caches. Find reads Redis; on a miss it reads
// the Store and fills the cache, unless the session was revoked meanwhile:
// the fill is one script that writes only while the session's tombstone is
// absent, and when the tombstone stopped it, Find answers NOT_FOUND (the row
// it read may predate the delete, and the answer may come after Revoke's
// `done`). A lookup that took longer than half the tombstone's TTL cannot
// trust the tombstone to be there still: it reads again once, then answers
// UNAVAILABLE. Revoke deletes from the Store, then (one script) writes the
// tombstone "<prefix>:{s:<hash>}:revoked" with session_tombstone_ttl_ms and
// deletes the cached "<prefix>:{s:<hash>}:session". So no Find started after
// Revoke's `done`, on any node, returns the session. A revoked hash is
// answered NOT_FOUND from its tombstone without asking the Store.
//
// When Redis fails during Revoke, the Store's row is gone but the cache may
// still hold the session (until session_cache_ttl_ms): Revoke then answers
// UNAVAILABLE, and the caller should retry.
//
// Thread-safe; no state of its own besides immutable options. Callbacks run
// on the Redis client's strand or a store thread. `store` must outlive every
// call; the object must outlive its calls' callbacks.
#pragma once

#include <memory>

#include "redis/redis_client.h"
#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_state_options.h"
#include "state/session_store.h"
#include "store/store.h"

namespace parley::state {

class RedisSessionStore final : public SessionStore {
 public:
  RedisSessionStore(std::shared_ptr<redis::RedisClient> client, store::Store& store,
                    RedisStateOptions options);

  void Create(Session session, Callback<Status> done) override;
  void Find(std::string token_hash, Callback<StatusOr<Session>> done) override;
  void Revoke(std::string token_hash, Callback<Status> done) override;

 private:
  // true when cached; false when the session's tombstone stopped it.
  void Fill(const Session& s, Callback<StatusOr<bool>> done);
  // A lookup; `attempt` counts reads repeated because the store was slow.
  void Lookup(std::string token_hash, int attempt, Callback<StatusOr<Session>> done);

  std::shared_ptr<redis::RedisClient> client_;
  store::Store& store_;
  const RedisStateOptions options_;
  const RedisStateKeys keys_;
  const redis::Script fill_script_, revoke_script_;
};

}  // namespace parley::state

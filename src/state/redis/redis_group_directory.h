// GroupDirectory over the Store with a Redis cache in front (cluster mode:
// the Store is MariaDB), shared by every logic node.
//
// Per group: the cached snapshot "<prefix>:{g<id>}:group" (a serialized
// rpc::Group, expiring after group_cache_ttl_ms) and a version counter
// "<prefix>:{g<id>}:version". A change writes the Store, then bumps the
// version and deletes the snapshot (one step) before its `done`: a Get that
// starts afterwards misses the cache and reads the Store. Get reads the
// snapshot and the version together; on a miss it reads the Store and fills
// the cache only if the version is still the one it read (one script), so a
// Get racing a change never caches the old group. A Get slower than half
// group_version_ttl_ms does not fill.
//
// When Redis fails after the Store changed, the change answers UNAVAILABLE:
// it is durable, but other nodes may serve the old snapshot until it expires.
//
// Thread-safe; no state of its own besides immutable options. Callbacks run
// on the Redis client's strand or a store thread. `store` must outlive every
// call; the object must outlive its calls' callbacks.
#pragma once

#include <memory>

#include "redis/redis_client.h"
#include "state/group_directory.h"
#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_state_options.h"
#include "store/store.h"

namespace parley::state {

class RedisGroupDirectory final : public GroupDirectory {
 public:
  RedisGroupDirectory(std::shared_ptr<redis::RedisClient> client, store::Store& store,
                      RedisStateOptions options);

  void Create(std::string name, uint64_t owner, std::vector<uint64_t> members, int64_t now_ms,
              model::MembershipRules rules, Callback<StatusOr<GroupPtr>> done) override;
  void Get(uint64_t group_id, Callback<StatusOr<GroupPtr>> done) override;
  void AddMember(uint64_t group_id, uint64_t user_id, int64_t now_ms, model::MembershipRules rules,
                 Callback<Status> done) override;
  void RemoveMember(uint64_t group_id, uint64_t user_id,
                    Callback<StatusOr<GroupPtr>> done) override;

 private:
  // Bumps the version and drops the snapshot.
  void Invalidate(uint64_t group_id, Callback<Status> done);

  std::shared_ptr<redis::RedisClient> client_;
  store::Store& store_;
  const RedisStateOptions options_;
  const RedisStateKeys keys_;
  const redis::Script fill_script_, invalidate_script_;
};

}  // namespace parley::state

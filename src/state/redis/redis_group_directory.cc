#include "state/redis/redis_group_directory.h"

#include <chrono>

#include "state/redis/redis_replies.h"

namespace parley::state {

using redis_internal::ErrorOf;

namespace {

// KEYS: snapshot, version. ARGV: version read before the Store ('' when
// absent), snapshot, ttl ms.
const char kFillLua[] = R"(
local v = redis.call('GET', KEYS[2]) or ''
if v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
)";

// KEYS: snapshot, version. ARGV: version ttl ms.
const char kInvalidateLua[] = R"(
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
)";

GroupPtr Share(rpc::Group g) { return std::make_shared<const rpc::Group>(std::move(g)); }

}  // namespace

RedisGroupDirectory::RedisGroupDirectory(std::shared_ptr<redis::RedisClient> client,
                                         store::Store& store, RedisStateOptions options)
    : client_(std::move(client)),
      store_(store),
      options_(std::move(options)),
      keys_(options_.key_prefix, options_.partitions),
      fill_script_(kFillLua),
      invalidate_script_(kInvalidateLua) {}

void RedisGroupDirectory::Create(std::string name, uint64_t owner, std::vector<uint64_t> members,
                                 int64_t now_ms, model::MembershipRules rules,
                                 Callback<StatusOr<GroupPtr>> done) {
  // A new group has nothing cached; the first Get fills.
  store_.CreateGroup(std::move(name), owner, std::move(members), now_ms, rules,
                     [done = std::move(done)](StatusOr<rpc::Group> g) {
                       if (!g.ok()) return done(g.status());
                       done(Share(std::move(*g)));
                     });
}

void RedisGroupDirectory::Get(uint64_t group_id, Callback<StatusOr<GroupPtr>> done) {
  auto started = std::chrono::steady_clock::now();
  client_->Pipeline(
      {{"GET", keys_.Group(group_id)}, {"GET", keys_.GroupVersion(group_id)}},
      [this, group_id, started,
       done = std::move(done)](StatusOr<std::vector<redis::Reply>> replies) mutable {
        if (!replies.ok()) return done(replies.status());
        for (const auto& r : *replies) {
          if (Status s = ErrorOf(r); !s.ok()) return done(s);
        }
        if (!(*replies)[0].is_nil()) {
          rpc::Group g;
          if (g.ParseFromString((*replies)[0].str)) return done(Share(std::move(g)));
        }
        std::string version = (*replies)[1].is_nil() ? "" : (*replies)[1].str;
        store_.GetGroup(group_id, [this, group_id, started, version = std::move(version),
                                   done = std::move(done)](StatusOr<rpc::Group> g) mutable {
          if (!g.ok()) return done(g.status());
          GroupPtr group = Share(std::move(*g));
          auto elapsed = std::chrono::steady_clock::now() - started;
          if (elapsed > std::chrono::milliseconds(options_.group_version_ttl_ms / 2)) {
            return done(std::move(group));
          }
          client_->Eval(
              fill_script_, {keys_.Group(group_id), keys_.GroupVersion(group_id)},
              {version, group->SerializeAsString(), std::to_string(options_.group_cache_ttl_ms)},
              [group, done = std::move(done)](StatusOr<redis::Reply>) mutable {
                // A snapshot that could not be cached is still the answer.
                done(std::move(group));
              });
        });
      });
}

void RedisGroupDirectory::Invalidate(uint64_t group_id, Callback<Status> done) {
  client_->Eval(invalidate_script_, {keys_.Group(group_id), keys_.GroupVersion(group_id)},
                {std::to_string(options_.group_version_ttl_ms)},
                [done = std::move(done)](StatusOr<redis::Reply> r) {
                  done(r.ok() ? ErrorOf(*r) : r.status());
                });
}

void RedisGroupDirectory::AddMember(uint64_t group_id, uint64_t user_id, int64_t now_ms,
                                    model::MembershipRules rules, Callback<Status> done) {
  store_.AddGroupMember(group_id, user_id, now_ms, rules,
                        [this, group_id, done = std::move(done)](Status s) mutable {
                          if (!s.ok()) return done(s);
                          Invalidate(group_id, std::move(done));
                        });
}

void RedisGroupDirectory::RemoveMember(uint64_t group_id, uint64_t user_id,
                                       Callback<StatusOr<GroupPtr>> done) {
  store_.RemoveGroupMember(
      group_id, user_id, [this, group_id, done = std::move(done)](StatusOr<rpc::Group> g) mutable {
        if (!g.ok()) return done(g.status());
        GroupPtr group = Share(std::move(*g));
        Invalidate(group_id, [group, done = std::move(done)](Status s) mutable {
          if (!s.ok()) return done(s);
          done(std::move(group));
        });
      });
}

}  // namespace parley::state

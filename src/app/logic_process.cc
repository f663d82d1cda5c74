// `parley logic`: the Logic facade over the cluster's shared state (Redis in
// front of MariaDB), serving LogicRPC over gRPC.
#include <spdlog/spdlog.h>

#include "app/cluster_backends.h"
#include "app/cluster_roles.h"
#include "app/node_runtime.h"
#include "logic/logic.h"
#include "presence/redis/redis_presence.h"
#include "queue/redis/redis_message_log.h"
#include "rpc/grpc_connect_directory.h"
#include "rpc/logic_grpc_server.h"
#include "state/redis/redis_auth_rate_limits.h"
#include "state/redis/redis_group_directory.h"
#include "state/redis/redis_idempotency_store.h"
#include "state/redis/redis_recent_window.h"
#include "state/redis/redis_sequence_allocator.h"
#include "state/redis/redis_session_store.h"

namespace parley::app {

int RunLogic(Options options) {
  NodeRuntime rt("logic", options);
  if (Status s = rt.Start(); !s.ok()) return rt.StartFailed(s);
  if (Status s = rt.ResolveName(); !s.ok()) return rt.StartFailed(s);
  // msg_ids are snowflakes: every logic process needs its own worker id.
  if (Status s = rt.AllocateSnowflakeId(); !s.ok()) return rt.StartFailed(s);

  auto store = OpenStore(options);
  if (!store.ok()) return rt.StartFailed(store.status());
  auto redis = OpenRedis(rt.executor(), options);
  if (!redis.ok()) return rt.StartFailed(redis.status());

  queue::RedisMessageLogOptions log_options;
  auto redis_address = redis::ParseAddress(options.cluster.redis);
  if (!redis_address.ok()) return rt.StartFailed(redis_address.status());
  log_options.redis = *redis_address;
  log_options.partitions = options.cluster.partitions;
  log_options.consumer = rt.name();
  log_options.idempotency_ttl_ms = options.storage.idempotency_ttl_ms;
  // Logic only appends (no Subscribe): the task tier consumes.
  auto log = queue::RedisMessageLog::Open(log_options);
  if (!log.ok()) return rt.StartFailed(log.status());

  auto state_options = StateOptions(options, rt.name());
  if (!state_options.ok()) return rt.StartFailed(state_options.status());
  const state::RedisStateOptions& st = *state_options;
  presence::RedisPresence presence(*redis, presence::RedisPresenceOptions{});
  state::RedisSequenceAllocator seqs(*redis, rt.executor(), **store, st);
  state::RedisIdempotencyStore sent(*redis, rt.executor(), st);
  state::RedisSessionStore sessions(*redis, **store, st);
  state::RedisGroupDirectory groups(*redis, **store, st);
  state::RedisRecentWindow recent(*redis, st);
  // In Redis, so that every logic node draws from the same buckets.
  state::RedisAuthRateLimits auth_limits(*redis, st, options.rate);
  auto connects =
      rpc::GrpcConnectDirectory::Create(rt.discovery(), ConnectDirectoryOptions(options.cluster));
  if (!connects.ok()) return rt.StartFailed(connects.status());

  auto logic = logic::Logic::Create(
      rt.executor(), {options, rt.clock(), **store, **log, presence, **connects, rt.metrics(), seqs,
                      sent, sessions, groups, recent, auth_limits});
  if (!logic.ok()) return rt.StartFailed(logic.status());

  rpc::LogicGrpcServer server(**logic, rpc::GrpcServerOptions{});
  if (Status s = server.Listen(options.cluster.grpc_listen); !s.ok()) return rt.StartFailed(s);
  const std::string grpc_address = BoundAddress(options.cluster.grpc_listen, server.port());
  if (Status s = rt.Register(grpc_address); !s.ok()) return rt.StartFailed(s);
  auto& facade = **logic;
  if (Status s = rt.ServeAdmin(
          [&facade](Callback<Status> done) { facade.Ready(logic::CallContext{}, std::move(done)); },
          options.listen);
      !s.ok()) {
    return rt.StartFailed(s);
  }
  rt.Announce(rt.admin_address());
  spdlog::info("event=logic_serving node={} grpc={} snowflake={}", rt.name(), grpc_address,
               options.node_id);

  rt.WaitForSignal();
  // Out of discovery first, so clients pick other nodes; then finish the
  // calls in progress.
  rt.Withdraw();
  server.Shutdown();
  (*log)->Close();
  (*logic)->Stop();
  rt.Stop();
  return 0;
}

}  // namespace parley::app

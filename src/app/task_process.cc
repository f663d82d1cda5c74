// `parley task`: the push and persist consumers of the log partitions this
// process owns (ownership through etcd, moved by consistent hashing when
// task processes come and go).
#include <spdlog/spdlog.h>

#include "app/cluster_backends.h"
#include "app/cluster_roles.h"
#include "app/node_runtime.h"
#include "discovery/etcd/etcd_partition_owner.h"
#include "presence/redis/redis_presence.h"
#include "queue/redis/redis_message_log.h"
#include "rpc/grpc_connect_directory.h"
#include "state/redis/redis_group_directory.h"
#include "task/persist_consumer.h"
#include "task/push_consumer.h"

namespace parley::app {

int RunTask(Options options) {
  NodeRuntime rt("task", options);
  if (Status s = rt.Start(); !s.ok()) return rt.StartFailed(s);
  if (Status s = rt.ResolveName(); !s.ok()) return rt.StartFailed(s);

  auto store = OpenStore(options);
  if (!store.ok()) return rt.StartFailed(store.status());
  auto redis = OpenRedis(rt.executor(), options);
  if (!redis.ok()) return rt.StartFailed(redis.status());
  presence::RedisPresence presence(*redis, presence::RedisPresenceOptions{});
  // Pushes read a group's members as logic does: from Redis, in front of
  // MariaDB, coherent with every membership change.
  auto state_options = StateOptions(options, rt.name());
  if (!state_options.ok()) return rt.StartFailed(state_options.status());
  state::RedisGroupDirectory groups(*redis, **store, *state_options);

  // The admin port first: its address is what the registration advertises.
  if (Status s =
          rt.ServeAdmin([&redis](Callback<Status> done) { (*redis)->Ping(done); }, options.listen);
      !s.ok()) {
    return rt.StartFailed(s);
  }
  if (Status s = rt.Register(rt.admin_address()); !s.ok()) return rt.StartFailed(s);

  queue::RedisMessageLogOptions log_options;
  auto redis_address = redis::ParseAddress(options.cluster.redis);
  if (!redis_address.ok()) return rt.StartFailed(redis_address.status());
  log_options.redis = *redis_address;
  log_options.partitions = options.cluster.partitions;
  // A consumer per incarnation: entries a dead incarnation held are taken
  // over (XAUTOCLAIM) by whoever owns their partition next.
  log_options.consumer = rt.name() + ":" + std::to_string(rt.epoch());
  log_options.redelivery_ms = options.storage.log_redelivery_ms;
  auto log = queue::RedisMessageLog::Open(log_options);
  if (!log.ok()) return rt.StartFailed(log.status());
  // Nothing is consumed until etcd says which partitions are this node's.
  (*log)->SetPartitions({});

  // Connections of a connect node that left are dropped from presence.
  auto connects = rpc::GrpcConnectDirectory::Create(
      rt.discovery(), ConnectDirectoryOptions(options.cluster),
      [&presence](const std::string& node, uint64_t epoch) {
        presence.RemoveNode(node, epoch, [node, epoch](Status s) {
          if (!s.ok()) {
            spdlog::warn("event=presence_cleanup_failed node={} epoch={} error=\"{}\"", node, epoch,
                         s.message());
          }
        });
      });

  task::PersistConsumer persist(**log, **store, rt.metrics());
  // A connect node is listed by every watcher within a lease's time of
  // registering; twice that covers a slow watch.
  task::PushConsumer::Options push_options;
  push_options.unknown_node_grace = std::chrono::milliseconds(2 * options.cluster.lease_ttl_ms);
  task::PushConsumer push(**log, groups, presence, **connects, rt.metrics(), rt.executor(),
                          push_options);
  persist.Start();
  push.Start();

  auto* redis_log = log->get();
  discovery::EtcdPartitionOwnerOptions owner_options;
  owner_options.partitions = options.cluster.partitions;
  owner_options.vnodes_per_node = options.cluster.ring_vnodes;
  auto owner = discovery::EtcdPartitionOwner::Start(
      rt.discovery(), *rt.registration(), owner_options,
      [redis_log, name = rt.name()](const std::set<uint32_t>& owned) {
        spdlog::info("event=partitions_owned node={} count={}", name, owned.size());
        redis_log->SetPartitions(std::vector<uint32_t>(owned.begin(), owned.end()));
      });
  if (!owner.ok()) return rt.StartFailed(owner.status());
  rt.Announce(rt.admin_address());

  rt.WaitForSignal();
  // Stop taking entries, give what is in hand a moment to be pushed and
  // persisted (bounded; the rest is taken over by the partitions' next owner
  // and pushed again at worst, which clients dedupe by conv+seq), then give
  // the partitions back at once rather than at lease expiry.
  redis_log->SetPartitions({});
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::min<uint32_t>(options.conn.drain_timeout_ms, 500)));
  (*owner)->Stop(true);
  rt.Withdraw();
  (*log)->Close();
  rt.Stop();
  return 0;
}

}  // namespace parley::app

#include "app/cluster_backends.h"

#include "app/node_runtime.h"

namespace parley::app {

StatusOr<std::unique_ptr<store::MariaDbStore>> OpenStore(const Options& options) {
  if (options.cluster.mysql.empty()) return Status::InvalidArgument("--mysql is required");
  store::MariaDbStoreOptions o;
  o.pool_size = options.cluster.mysql_pool;
  o.append_pool_size = options.cluster.mysql_append_pool;
  return store::MariaDbStore::Open(options.cluster.mysql, o);
}

StatusOr<std::shared_ptr<redis::RedisClient>> OpenRedis(boost::asio::any_io_executor executor,
                                                        const Options& options) {
  auto address = redis::ParseAddress(options.cluster.redis);
  if (!address.ok()) return address.status();
  auto client = redis::RedisClient::Create(executor, *address);
  if (Status s = Block<Status>([&](auto cb) { client->Ping(cb); }); !s.ok()) {
    return Status::Unavailable("redis at " + options.cluster.redis + ": " + s.message());
  }
  return client;
}

rpc::GrpcConnectDirectoryOptions ConnectDirectoryOptions(const ClusterOptions& cluster) {
  rpc::GrpcConnectDirectoryOptions o;
  o.client.push_request_max_bytes = cluster.push_request_max_bytes;
  o.client.push_queue_max_bytes = cluster.push_queue_max_bytes;
  return o;
}

StatusOr<state::RedisStateOptions> StateOptions(const Options& options, std::string node_id) {
  state::RedisStateOptions st;
  st.partitions = options.cluster.partitions;
  st.node_id = std::move(node_id);
  st.claim_ttl_ms = options.cluster.send_claim_ttl_ms;
  st.lease_ttl_ms = options.cluster.seq_lease_ttl_ms;
  st.idempotency_ttl_ms = options.storage.idempotency_ttl_ms;
  st.recent_per_conv = options.storage.recent_per_conv;
  st.recent_conv_max_bytes = options.storage.recent_conv_max_bytes;
  if (Status s = state::Validate(st); !s.ok()) return s;
  return st;
}

}  // namespace parley::app

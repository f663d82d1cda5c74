// Opening the shared servers of a cluster from the options, the same way in
// every role: MariaDB (the store) and Redis (log, presence, shared state).
// Each function blocks the calling thread until the server answered once, so
// a process with a wrong address fails at start with a clear error rather
// than later. Also the options of the ConnectRPC clients (logic and task
// both push to connect nodes) and of the shared state in Redis (logic uses
// all of it; task reads groups through the same directory).
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "common/options.h"
#include "common/status.h"
#include "redis/redis_client.h"
#include "rpc/grpc_connect_directory.h"
#include "state/redis/redis_state_options.h"
#include "store/mariadb/mariadb_store.h"

namespace parley::app {

StatusOr<std::unique_ptr<store::MariaDbStore>> OpenStore(const Options& options);
// A client for ordinary commands (not for blocking reads).
StatusOr<std::shared_ptr<redis::RedisClient>> OpenRedis(boost::asio::any_io_executor executor,
                                                        const Options& options);
rpc::GrpcConnectDirectoryOptions ConnectDirectoryOptions(const ClusterOptions& cluster);
// The shared state's options for the process named `node_id`; validated.
StatusOr<state::RedisStateOptions> StateOptions(const Options& options, std::string node_id);

}  // namespace parley::app

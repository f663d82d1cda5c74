#include "rpc/grpc_server_options.h"

#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "rpc/grpc_callback_queue_anchor.h"

namespace parley::rpc {

Status Validate(const GrpcServerOptions& o) {
  if (o.max_message_bytes == 0 || o.max_concurrent_streams == 0 || o.max_calls_in_flight == 0 ||
      o.max_metadata_bytes == 0 || o.memory_quota_bytes == 0 || o.keepalive_time_ms == 0 ||
      o.keepalive_timeout_ms == 0) {
    return Status::InvalidArgument("grpc server: every limit must be positive");
  }
  // gRPC takes these as int.
  if (o.max_message_bytes > INT32_MAX || o.max_concurrent_streams > INT32_MAX ||
      o.max_metadata_bytes > INT32_MAX || o.keepalive_time_ms > INT32_MAX ||
      o.keepalive_timeout_ms > INT32_MAX) {
    return Status::InvalidArgument("grpc server: a limit is out of range");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(const GrpcServerOptions& o,
                                                        const std::string& address,
                                                        grpc::Service& service, int* port) {
  if (Status s = Validate(o); !s.ok()) return s;
  if (address.empty()) return Status::InvalidArgument("grpc server: empty address");
  AnchorGrpcCallbackQueue();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(o.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(o.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(o.max_concurrent_streams));
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, static_cast<int>(o.max_metadata_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(o.keepalive_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(o.keepalive_timeout_ms));
  // Clients ping idle connections as often as our own clients do.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(o.keepalive_time_ms / 2));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  grpc::ResourceQuota quota("parley-grpc-server");
  quota.Resize(static_cast<size_t>(o.memory_quota_bytes));
  builder.SetResourceQuota(quota);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *port == 0) {
    return Status::Unavailable("grpc server: cannot listen on " + address);
  }
  return server;
}

}  // namespace parley::rpc

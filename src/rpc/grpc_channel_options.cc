#include "rpc/grpc_channel_options.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "rpc/grpc_callback_queue_anchor.h"

namespace parley::rpc {

Status Validate(const GrpcChannelOptions& o) {
  const uint32_t limits[] = {o.max_message_bytes,        o.reconnect_backoff_min_ms,
                             o.reconnect_backoff_max_ms, o.connect_timeout_ms,
                             o.keepalive_time_ms,        o.keepalive_timeout_ms};
  for (uint32_t v : limits) {
    if (v == 0 || v > INT32_MAX) {
      return Status::InvalidArgument("grpc channel: every limit must be in [1, 2^31)");
    }
  }
  if (o.reconnect_backoff_min_ms > o.reconnect_backoff_max_ms) {
    return Status::InvalidArgument("grpc channel: reconnect backoff min above max");
  }
  return Status::Ok();
}

std::shared_ptr<grpc::Channel> MakeGrpcChannel(const std::string& address,
                                               const GrpcChannelOptions& o, bool connect_now) {
  AnchorGrpcCallbackQueue();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(o.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(o.max_message_bytes));
  // gRPC's "min reconnect backoff" is the shortest a connection attempt is
  // given before it fails, i.e. the connect timeout.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(o.connect_timeout_ms));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(o.reconnect_backoff_min_ms));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(o.reconnect_backoff_max_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(o.keepalive_time_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(o.keepalive_timeout_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Each peer gets its own connection: a channel created after another to
  // the same address must not share (and inherit the backoff of) its
  // subchannel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  if (connect_now) channel->GetState(/*try_to_connect=*/true);
  return channel;
}

}  // namespace parley::rpc

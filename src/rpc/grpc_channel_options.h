// GrpcChannelOptions: the limits of a client channel to one peer, and
// MakeGrpcChannel, which opens one with them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "common/status.h"

namespace parley::rpc {

struct GrpcChannelOptions {
  // Largest request or reply, bytes (as the servers' max_message_bytes).
  uint32_t max_message_bytes = 4 * 1024 * 1024;
  // Reconnection to a peer that went away backs off from min to max; a low
  // max finds a restarted peer quickly (the default gRPC max is 120 s).
  uint32_t reconnect_backoff_min_ms = 100;
  uint32_t reconnect_backoff_max_ms = 1'000;
  // A connection attempt that has not completed by then fails.
  uint32_t connect_timeout_ms = 2'000;
  // Keepalive pings on idle connections, so that a dead peer is noticed
  // without waiting for a call to time out.
  uint32_t keepalive_time_ms = 10'000;
  uint32_t keepalive_timeout_ms = 5'000;
};

// INVALID_ARGUMENT for a zero or out-of-range limit.
Status Validate(const GrpcChannelOptions& options);

// A channel to `address` (host:port) without TLS. It connects lazily, or at
// once with `connect_now`. Never null; `options` must be valid.
std::shared_ptr<grpc::Channel> MakeGrpcChannel(const std::string& address,
                                               const GrpcChannelOptions& options,
                                               bool connect_now = true);

}  // namespace parley::rpc

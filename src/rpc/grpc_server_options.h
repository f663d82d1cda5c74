// GrpcServerOptions: the limits of one gRPC server (LogicRPC or ConnectRPC),
// and StartGrpcServer, which builds and binds a server with them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/impl/codegen/service_type.h>
#include <grpcpp/server.h>

#include "common/status.h"

namespace parley::rpc {

struct GrpcServerOptions {
  // Largest request or reply, bytes. A send batch of 256 bodies of 4 KiB
  // stays well under it.
  uint32_t max_message_bytes = 4 * 1024 * 1024;
  // Calls in flight on one client connection (HTTP/2 SETTINGS).
  uint32_t max_concurrent_streams = 1000;
  // Calls in flight on the whole server; beyond it a call is refused at once
  // with RESOURCE_EXHAUSTED (clients answer it as unavailable).
  uint32_t max_calls_in_flight = 20'000;
  // Metadata of one call, bytes (credentials, request id, ...).
  uint32_t max_metadata_bytes = 16 * 1024;
  // Memory the server's transport may use for buffers, bytes.
  uint64_t memory_quota_bytes = 256ull * 1024 * 1024;
  // Keepalive pings on idle connections, so that a dead client is noticed.
  uint32_t keepalive_time_ms = 10'000;
  uint32_t keepalive_timeout_ms = 5'000;
  // Shutdown lets calls in flight finish for this long, then cancels them.
  uint32_t shutdown_grace_ms = 5'000;
};

// INVALID_ARGUMENT for a zero or out-of-range limit.
Status Validate(const GrpcServerOptions& options);

// Builds a server for `service` with `options`, listening on `address`
// (host:port; port 0 picks a free one) without TLS: Parley's RPC traffic
// stays on a private network. On success `*port` is the bound port.
// INVALID_ARGUMENT for invalid options or an empty address, UNAVAILABLE
// when the address cannot be bound.
StatusOr<std::unique_ptr<grpc::Server>> StartGrpcServer(const GrpcServerOptions& options,
                                                        const std::string& address,
                                                        grpc::Service& service, int* port);

}  // namespace parley::rpc

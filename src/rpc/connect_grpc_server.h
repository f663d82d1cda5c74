// ConnectGrpcServer: serves ConnectRPC (proto/parley/connect.proto) over gRPC
// by calling the connect::ConnectService of this node, so that task and
// logic processes can push to it and kick its connections. Asynchronous:
// gRPC's callback API, no thread per call.
//
// Thread-safe. `node` must outlive the server and answer every call:
// Shutdown (and the destructor) wait for the answers of calls in flight.
#pragma once

#include <atomic>
#include <memory>

#include <grpcpp/server.h>

#include "common/status.h"
#include "connect/connect_service.h"
#include "rpc/grpc_server_options.h"

namespace parley::rpc {

class ConnectGrpcServer {
 public:
  // Binds and starts serving; UNAVAILABLE when the address cannot be bound,
  // INVALID_ARGUMENT for invalid options.
  static StatusOr<std::unique_ptr<ConnectGrpcServer>> Start(connect::ConnectService& node,
                                                            GrpcServerOptions options);
  ~ConnectGrpcServer();
  ConnectGrpcServer(const ConnectGrpcServer&) = delete;
  ConnectGrpcServer& operator=(const ConnectGrpcServer&) = delete;

  // The port it listens on (the chosen one when the options said 0).
  int port() const { return port_; }

  // Stops taking calls; calls in flight get options.shutdown_grace_ms, then
  // are cancelled. Returns once every call is done. Idempotent; must not be
  // called from a service callback.
  void Shutdown();

 private:
  class Service;
  ConnectGrpcServer(GrpcServerOptions options, std::unique_ptr<Service> service);

  const GrpcServerOptions options_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;  // after service_: goes first
  int port_ = 0;
  std::atomic<bool> shut_down_{false};
};

}  // namespace parley::rpc

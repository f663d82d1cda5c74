// ConnectGrpcServer: serves ConnectRPC (proto/parley/connect.proto) over gRPC
// by calling the connect::ConnectService of this node, so that task and
// logic processes can push to it and kick its connections. Asynchronous:
// gRPC's callback API, no thread per call.
//
// It may listen before the node exists (a connect node's epoch comes from
// registering the address it listens on): calls that arrive before Serve
// fail UNAVAILABLE (the callers' clients answer them as nothing delivered).
//
// Thread-safe. The node given to Serve must outlive the server and answer
// every call: Shutdown (and the destructor) wait for the answers of calls in
// flight.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/server.h>

#include "common/status.h"
#include "connect/connect_service.h"
#include "rpc/grpc_server_options.h"

namespace parley::rpc {

class ConnectGrpcServer {
 public:
  explicit ConnectGrpcServer(GrpcServerOptions options);
  // Serves `node` from the start.
  ConnectGrpcServer(connect::ConnectService& node, GrpcServerOptions options);
  ~ConnectGrpcServer();
  ConnectGrpcServer(const ConnectGrpcServer&) = delete;
  ConnectGrpcServer& operator=(const ConnectGrpcServer&) = delete;

  // Binds `address` (host:port; port 0 picks a free one) and starts taking
  // calls. INVALID_ARGUMENT for invalid options, UNAVAILABLE when the
  // address cannot be bound, INTERNAL if already listening.
  Status Listen(const std::string& address);
  // From now on calls go to `node`. Once only.
  void Serve(connect::ConnectService& node);
  // The bound port; 0 before Listen.
  int port() const { return port_; }

  // Stops taking calls; calls in flight get `grace` (by default the
  // options' shutdown_grace_ms) to finish, then are cancelled. Returns once
  // every call is done. Idempotent; must not be called from a service
  // callback.
  void Shutdown();
  void Shutdown(std::chrono::milliseconds grace);

 private:
  class Service;

  const GrpcServerOptions options_;
  std::unique_ptr<Service> service_;
  std::mutex mu_;                         // serializes Listen and Shutdown
  std::unique_ptr<grpc::Server> server_;  // after service_: goes first
  std::atomic<int> port_{0};
  bool shut_down_ = false;  // guarded by mu_
};

}  // namespace parley::rpc

// LogicGrpcServer: serves LogicRPC (proto/parley/logic.proto) over gRPC by
// calling a logic::LogicService, so that api and connect processes reach the
// logic tier. The CallContext of each call is read from its metadata and
// deadline (call_metadata.h). Asynchronous: gRPC's callback API, no thread
// per call; a call is finished from the thread on which the service answers.
//
// Thread-safe. `logic` must outlive the server and answer every call it is
// given: Shutdown (and the destructor) wait for the answers of calls in
// flight.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/server.h>

#include "common/status.h"
#include "logic/logic_service.h"
#include "rpc/grpc_server_options.h"

namespace parley::rpc {

class LogicGrpcServer {
 public:
  LogicGrpcServer(logic::LogicService& logic, GrpcServerOptions options);
  ~LogicGrpcServer();
  LogicGrpcServer(const LogicGrpcServer&) = delete;
  LogicGrpcServer& operator=(const LogicGrpcServer&) = delete;

  // Binds `address` (host:port; port 0 picks a free one) and starts
  // serving. INVALID_ARGUMENT for invalid options, UNAVAILABLE when the
  // address cannot be bound, INTERNAL if already listening.
  Status Listen(const std::string& address);
  // The bound port; 0 before Listen.
  int port() const { return port_; }
  // Calls being served now.
  int64_t calls_in_flight() const;

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

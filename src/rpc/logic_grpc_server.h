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
#include <memory>

#include <grpcpp/server.h>

#include "common/status.h"
#include "logic/logic_service.h"
#include "rpc/grpc_server_options.h"

namespace parley::rpc {

class LogicGrpcServer {
 public:
  // Binds and starts serving; UNAVAILABLE when the address cannot be bound,
  // INVALID_ARGUMENT for invalid options.
  static StatusOr<std::unique_ptr<LogicGrpcServer>> Start(logic::LogicService& logic,
                                                          GrpcServerOptions options);
  ~LogicGrpcServer();
  LogicGrpcServer(const LogicGrpcServer&) = delete;
  LogicGrpcServer& operator=(const LogicGrpcServer&) = delete;

  // The port it listens on (the chosen one when the options said 0).
  int port() const { return port_; }
  // Calls being served now.
  int64_t calls_in_flight() const;

  // Stops taking calls; calls in flight get options.shutdown_grace_ms to
  // finish, then are cancelled. Returns once every call is done. Idempotent;
  // must not be called from a service callback.
  void Shutdown();

 private:
  class Service;
  LogicGrpcServer(GrpcServerOptions options, std::unique_ptr<Service> service);

  const GrpcServerOptions options_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;  // after service_: goes first
  int port_ = 0;
  std::atomic<bool> shut_down_{false};
};

}  // namespace parley::rpc

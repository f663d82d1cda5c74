#include "rpc/connect_grpc_server.h"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "parley/connect.grpc.pb.h"
#include "rpc/take_request.h"

namespace parley::rpc {

class ConnectGrpcServer::Service final : public ConnectRPC::CallbackService {
 public:
  Service(connect::ConnectService& node, uint32_t max_calls_in_flight)
      : node_(node), max_calls_in_flight_(max_calls_in_flight) {}

  grpc::ServerUnaryReactor* Push(grpc::CallbackServerContext* sc, const PushRequest* req,
                                 PushReply* reply) override {
    return Serve(sc, req, reply, &connect::ConnectService::Push);
  }
  grpc::ServerUnaryReactor* Kick(grpc::CallbackServerContext* sc, const KickRequest* req,
                                 KickReply* reply) override {
    return Serve(sc, req, reply, &connect::ConnectService::Kick);
  }

 private:
  template <typename Req, typename Reply>
  using Method = void (connect::ConnectService::*)(Req, Callback<Reply>);

  template <typename Req, typename Reply>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* sc, const Req* req, Reply* reply,
                                  Method<Req, Reply> method) {
    grpc::ServerUnaryReactor* reactor = sc->DefaultReactor();
    if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= max_calls_in_flight_) {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      reactor->Finish(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many calls in flight"));
      return reactor;
    }
    (node_.*method)(TakeRequest(req), [this, reactor, reply](Reply r) {
      *reply = std::move(r);
      // Before Finish: once the last call finished, Shutdown may return and
      // this service go.
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  connect::ConnectService& node_;
  const int64_t max_calls_in_flight_;
  std::atomic<int64_t> in_flight_{0};
};

StatusOr<std::unique_ptr<ConnectGrpcServer>> ConnectGrpcServer::Start(connect::ConnectService& node,
                                                                      GrpcServerOptions options) {
  auto service = std::make_unique<Service>(node, options.max_calls_in_flight);
  std::unique_ptr<ConnectGrpcServer> self(new ConnectGrpcServer(options, std::move(service)));
  auto server = StartGrpcServer(self->options_, *self->service_, &self->port_);
  if (!server.ok()) return server.status();
  self->server_ = std::move(server).value();
  spdlog::info("event=connect_grpc_listening address={} port={}", options.address, self->port_);
  return self;
}

ConnectGrpcServer::ConnectGrpcServer(GrpcServerOptions options, std::unique_ptr<Service> service)
    : options_(std::move(options)), service_(std::move(service)) {}

ConnectGrpcServer::~ConnectGrpcServer() { Shutdown(); }

void ConnectGrpcServer::Shutdown() {
  if (server_ == nullptr || shut_down_.exchange(true)) return;
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(options_.shutdown_grace_ms));
  server_->Wait();
}

}  // namespace parley::rpc

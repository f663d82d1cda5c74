#include "rpc/connect_grpc_server.h"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "parley/connect.grpc.pb.h"
#include "rpc/take_request.h"

namespace parley::rpc {

class ConnectGrpcServer::Service final : public ConnectRPC::CallbackService {
 public:
  explicit Service(uint32_t max_calls_in_flight) : max_calls_in_flight_(max_calls_in_flight) {}

  void Serve(connect::ConnectService& node) { node_.store(&node, std::memory_order_release); }

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
    connect::ConnectService* node = node_.load(std::memory_order_acquire);
    if (node == nullptr) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect node not serving yet"));
      return reactor;
    }
    if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= max_calls_in_flight_) {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      reactor->Finish(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many calls in flight"));
      return reactor;
    }
    (node->*method)(TakeRequest(req), [this, reactor, reply](Reply r) {
      *reply = std::move(r);
      // Before Finish: once the last call finished, Shutdown may return and
      // this service go.
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  std::atomic<connect::ConnectService*> node_{nullptr};
  const int64_t max_calls_in_flight_;
  std::atomic<int64_t> in_flight_{0};
};

ConnectGrpcServer::ConnectGrpcServer(GrpcServerOptions options)
    : options_(std::move(options)),
      service_(std::make_unique<Service>(options_.max_calls_in_flight)) {}

ConnectGrpcServer::ConnectGrpcServer(connect::ConnectService& node, GrpcServerOptions options)
    : ConnectGrpcServer(std::move(options)) {
  Serve(node);
}

ConnectGrpcServer::~ConnectGrpcServer() { Shutdown(); }

Status ConnectGrpcServer::Listen(const std::string& address) {
  std::lock_guard lock(mu_);
  if (server_ != nullptr || shut_down_) return Status::Internal("connect grpc server: listened");
  int port = 0;
  auto server = StartGrpcServer(options_, address, *service_, &port);
  if (!server.ok()) return server.status();
  server_ = std::move(server).value();
  port_ = port;
  spdlog::info("event=connect_grpc_listening address={} port={}", address, port);
  return Status::Ok();
}

void ConnectGrpcServer::Serve(connect::ConnectService& node) { service_->Serve(node); }

void ConnectGrpcServer::Shutdown() {
  Shutdown(std::chrono::milliseconds(options_.shutdown_grace_ms));
}

void ConnectGrpcServer::Shutdown(std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

}  // namespace parley::rpc

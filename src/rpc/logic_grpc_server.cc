#include "rpc/logic_grpc_server.h"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "parley/logic.grpc.pb.h"
#include "rpc/call_metadata.h"
#include "rpc/take_request.h"

namespace parley::rpc {

class LogicGrpcServer::Service final : public LogicRPC::CallbackService {
 public:
  Service(logic::LogicService& logic, uint32_t max_calls_in_flight)
      : logic_(logic), max_calls_in_flight_(max_calls_in_flight) {}

  int64_t calls_in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* sc, const RegisterRequest* req,
                                     RegisterReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Register);
  }
  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* sc, const LoginRequest* req,
                                  LoginReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Login);
  }
  grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* sc, const LogoutRequest* req,
                                   LogoutReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Logout);
  }
  grpc::ServerUnaryReactor* Auth(grpc::CallbackServerContext* sc, const AuthRequest* req,
                                 AuthReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Auth);
  }
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* sc, const GetUserRequest* req,
                                    GetUserReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::GetUser);
  }
  grpc::ServerUnaryReactor* CreateGroup(grpc::CallbackServerContext* sc,
                                        const CreateGroupRequest* req, GroupReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::CreateGroup);
  }
  grpc::ServerUnaryReactor* GetGroup(grpc::CallbackServerContext* sc, const GetGroupRequest* req,
                                     GroupReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::GetGroup);
  }
  grpc::ServerUnaryReactor* AddMember(grpc::CallbackServerContext* sc, const AddMemberRequest* req,
                                      MembershipReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::AddMember);
  }
  grpc::ServerUnaryReactor* RemoveMember(grpc::CallbackServerContext* sc,
                                         const RemoveMemberRequest* req,
                                         MembershipReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::RemoveMember);
  }
  grpc::ServerUnaryReactor* Settings(grpc::CallbackServerContext* sc, const SettingsRequest* req,
                                     SettingsReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Settings);
  }
  grpc::ServerUnaryReactor* ListConversations(grpc::CallbackServerContext* sc,
                                              const ListConversationsRequest* req,
                                              ListConversationsReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::ListConversations);
  }
  grpc::ServerUnaryReactor* Sync(grpc::CallbackServerContext* sc, const SyncRequest* req,
                                 SyncReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Sync);
  }
  grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* sc, const SendBatch* req,
                                 SendBatchReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Send);
  }
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* sc, const ReadRequest* req,
                                 ReadReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Read);
  }
  grpc::ServerUnaryReactor* Connect(grpc::CallbackServerContext* sc, const ConnectRequest* req,
                                    ConnectReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Connect);
  }
  grpc::ServerUnaryReactor* Disconnect(grpc::CallbackServerContext* sc,
                                       const DisconnectRequest* req,
                                       DisconnectReply* reply) override {
    return Serve(sc, req, reply, &logic::LogicService::Disconnect);
  }

 private:
  template <typename Req, typename Reply>
  using Method = void (logic::LogicService::*)(logic::CallContext, Req, Callback<Reply>);

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
    (logic_.*method)(ReadCallContext(*sc), TakeRequest(req), [this, reactor, reply](Reply r) {
      *reply = std::move(r);
      // Before Finish: once the last call finished, Shutdown may return and
      // this service go.
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  logic::LogicService& logic_;
  const int64_t max_calls_in_flight_;
  std::atomic<int64_t> in_flight_{0};
};

LogicGrpcServer::LogicGrpcServer(logic::LogicService& logic, GrpcServerOptions options)
    : options_(std::move(options)),
      service_(std::make_unique<Service>(logic, options_.max_calls_in_flight)) {}

LogicGrpcServer::~LogicGrpcServer() { Shutdown(); }

Status LogicGrpcServer::Listen(const std::string& address) {
  std::lock_guard lock(mu_);
  if (server_ != nullptr || shut_down_) return Status::Internal("logic grpc server: listened");
  int port = 0;
  auto server = StartGrpcServer(options_, address, *service_, &port);
  if (!server.ok()) return server.status();
  server_ = std::move(server).value();
  port_ = port;
  spdlog::info("event=logic_grpc_listening address={} port={}", address, port);
  return Status::Ok();
}

int64_t LogicGrpcServer::calls_in_flight() const { return service_->calls_in_flight(); }

void LogicGrpcServer::Shutdown() {
  Shutdown(std::chrono::milliseconds(options_.shutdown_grace_ms));
}

void LogicGrpcServer::Shutdown(std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

}  // namespace parley::rpc

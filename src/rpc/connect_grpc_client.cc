#include "rpc/connect_grpc_client.h"

#include <chrono>
#include <utility>

#include <grpcpp/client_context.h>
#include <spdlog/spdlog.h>

#include "parley/connect.grpc.pb.h"

namespace parley::rpc {

struct ConnectGrpcClient::Stub {
  explicit Stub(std::shared_ptr<grpc::Channel> ch)
      : channel(std::move(ch)), stub(ConnectRPC::NewStub(channel)) {}
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<ConnectRPC::Stub> stub;
};

namespace {

using Async = ConnectRPC::StubInterface::async_interface;
template <typename Req, typename Reply>
using AsyncMethod = void (Async::*)(grpc::ClientContext*, const Req*, Reply*,
                                    std::function<void(grpc::Status)>);

template <typename Req, typename Reply>
struct Call {
  grpc::ClientContext cc;
  Req req;
  Reply reply;
};

}  // namespace

ConnectGrpcClient::ConnectGrpcClient(std::string node_id, uint64_t epoch, std::string address,
                                     const ConnectGrpcClientOptions& options)
    : node_id_(std::move(node_id)),
      epoch_(epoch),
      address_(std::move(address)),
      timeout_ms_(options.timeout_ms),
      stub_(std::make_shared<Stub>(MakeGrpcChannel(address_, options.channel))) {}

ConnectGrpcClient::~ConnectGrpcClient() = default;

template <typename Req, typename Reply>
static void Invoke(const std::shared_ptr<ConnectGrpcClient::Stub>& stub,
                   AsyncMethod<Req, Reply> method, const char* name, const std::string& node,
                   uint32_t timeout_ms, std::shared_ptr<std::atomic<uint64_t>> failed, Req req,
                   Callback<Reply> done) {
  auto call = std::make_shared<Call<Req, Reply>>();
  call->cc.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  call->req = std::move(req);
  (stub->stub->async()->*method)(
      &call->cc, &call->req, &call->reply,
      [call, stub, name, node, failed = std::move(failed), done = std::move(done)](grpc::Status s) {
        if (s.ok()) return done(std::move(call->reply));
        failed->fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("event=connect_call_failed call={} node={} code={} error=\"{}\"", name, node,
                     static_cast<int>(s.error_code()), s.error_message());
        done(Reply());
      });
}

void ConnectGrpcClient::Push(PushRequest req, Callback<PushReply> done) {
  Invoke<PushRequest, PushReply>(stub_, &Async::Push, "push", node_id_, timeout_ms_, failed_,
                                 std::move(req), std::move(done));
}

void ConnectGrpcClient::Kick(KickRequest req, Callback<KickReply> done) {
  Invoke<KickRequest, KickReply>(stub_, &Async::Kick, "kick", node_id_, timeout_ms_, failed_,
                                 std::move(req), std::move(done));
}

}  // namespace parley::rpc

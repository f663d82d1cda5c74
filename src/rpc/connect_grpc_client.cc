#include "rpc/connect_grpc_client.h"

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

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

struct ConnectGrpcClient::PushLane {
  // Pushes merged into one request, with their callers.
  struct Waiting {
    PushRequest req;
    size_t bytes = 0;
    std::vector<Callback<PushReply>> done;
  };
  std::mutex mu;
  // Guarded by mu.
  bool in_flight = false;
  std::deque<Waiting> waiting;
  uint64_t waiting_bytes = 0;
  bool dropping = false;  // logged once per spell of a full queue
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
      push_request_max_bytes_(options.push_request_max_bytes),
      push_queue_max_bytes_(options.push_queue_max_bytes),
      stub_(std::make_shared<Stub>(MakeGrpcChannel(address_, options.channel))),
      push_lane_(std::make_shared<PushLane>()) {}

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

// Sends one request of the lane; once it is answered, sends the next one
// waiting (before answering this one's callers, who only ack).
static void SendPush(const std::shared_ptr<ConnectGrpcClient::Stub>& stub,
                     std::shared_ptr<ConnectGrpcClient::PushLane> lane, const std::string& node,
                     uint32_t timeout_ms, std::shared_ptr<std::atomic<uint64_t>> failed,
                     PushRequest req, std::vector<Callback<PushReply>> done) {
  Invoke<PushRequest, PushReply>(
      stub, &Async::Push, "push", node, timeout_ms, failed, std::move(req),
      [stub, lane, node, timeout_ms, failed, done = std::move(done)](PushReply reply) {
        std::optional<ConnectGrpcClient::PushLane::Waiting> next;
        {
          std::lock_guard lock(lane->mu);
          if (lane->waiting.empty()) {
            lane->in_flight = false;
          } else {
            next = std::move(lane->waiting.front());
            lane->waiting.pop_front();
            lane->waiting_bytes -= next->bytes;
          }
        }
        if (next) {
          SendPush(stub, lane, node, timeout_ms, failed, std::move(next->req),
                   std::move(next->done));
        }
        for (const auto& d : done) d(reply);
      });
}

void ConnectGrpcClient::Push(PushRequest req, Callback<PushReply> done) {
  {
    std::unique_lock lock(push_lane_->mu);
    PushLane& lane = *push_lane_;
    if (lane.in_flight) {
      const size_t bytes = req.ByteSizeLong();
      if (lane.waiting_bytes + bytes > push_queue_max_bytes_) {
        const bool first = !std::exchange(lane.dropping, true);
        const uint64_t waiting = lane.waiting_bytes;
        lock.unlock();
        failed_->fetch_add(1, std::memory_order_relaxed);
        if (first) {
          spdlog::warn("event=connect_push_queue_full node={} waiting_bytes={}", node_id_, waiting);
        }
        return done(PushReply());
      }
      lane.dropping = false;
      if (lane.waiting.empty() || lane.waiting.back().bytes + bytes > push_request_max_bytes_) {
        lane.waiting.emplace_back();
      }
      PushLane::Waiting& w = lane.waiting.back();
      if (w.req.events_size() == 0) {
        w.req = std::move(req);
      } else {
        for (PushEvent& ev : *req.mutable_events()) w.req.mutable_events()->Add(std::move(ev));
      }
      w.bytes += bytes;
      w.done.push_back(std::move(done));
      lane.waiting_bytes += bytes;
      return;
    }
    lane.in_flight = true;
  }
  std::vector<Callback<PushReply>> callers;
  callers.push_back(std::move(done));
  SendPush(stub_, push_lane_, node_id_, timeout_ms_, failed_, std::move(req), std::move(callers));
}

void ConnectGrpcClient::Kick(KickRequest req, Callback<KickReply> done) {
  Invoke<KickRequest, KickReply>(stub_, &Async::Kick, "kick", node_id_, timeout_ms_, failed_,
                                 std::move(req), std::move(done));
}

}  // namespace parley::rpc

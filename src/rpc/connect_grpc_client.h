// ConnectGrpcClient: the ConnectService of one remote connect node, calling
// its ConnectRPC over gRPC (callback API: no thread per call, nothing
// blocks). GrpcConnectDirectory hands these out, one per node incarnation.
//
// PushReply and KickReply have no error field: a call that fails (the node
// is gone, the deadline passed) answers an empty reply (nothing delivered,
// nothing closed), is logged, and is counted in failed_calls(). The node's
// clients then see a gap and sync.
//
// Pushes reach the node in the order Push was called: concurrent unary calls
// may be served in any order (each is its own HTTP/2 stream, taken by
// whichever server thread is free), which would let a later message overtake
// an earlier one of the same conversation. So one Push request is in flight
// per node at a time, and pushes made meanwhile ride together in the next
// request (up to push_request_max_bytes each). Each of them is answered with
// the reply of the request it rode in: `delivered` then counts the whole
// request. With push_queue_max_bytes waiting already, a Push fails at once.
//
// Thread-safe. `done` runs on a gRPC thread and must not block. The client
// may be destroyed with calls in flight; they complete.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "connect/connect_service.h"
#include "rpc/grpc_channel_options.h"

namespace parley::rpc {

struct ConnectGrpcClientOptions {
  GrpcChannelOptions channel;
  // Deadline of each Push and Kick, ms.
  uint32_t timeout_ms = 5'000;
  // Pushes merged into one request while another is in flight, in bytes
  // (below gRPC's default 4 MiB message limit); one larger push goes alone.
  uint32_t push_request_max_bytes = 1 << 20;
  // Pushes waiting behind the one in flight, in bytes; beyond it they fail.
  uint64_t push_queue_max_bytes = 64ULL << 20;
};

class ConnectGrpcClient final : public connect::ConnectService {
 public:
  // Connects to `address` (host:port) at once; `options` must be valid
  // (GrpcConnectDirectory checks them).
  ConnectGrpcClient(std::string node_id, uint64_t epoch, std::string address,
                    const ConnectGrpcClientOptions& options);
  ~ConnectGrpcClient() override;

  void Push(PushRequest req, Callback<PushReply> done) override;
  void Kick(KickRequest req, Callback<KickReply> done) override;

  const std::string& node_id() const { return node_id_; }
  uint64_t epoch() const { return epoch_; }
  const std::string& address() const { return address_; }
  uint64_t failed_calls() const { return failed_->load(std::memory_order_relaxed); }

  struct Stub;      // internal: the channel and stub, shared with calls in flight
  struct PushLane;  // internal: the push in flight and those waiting behind it

 private:
  const std::string node_id_;
  const uint64_t epoch_;
  const std::string address_;
  const uint32_t timeout_ms_;
  const uint32_t push_request_max_bytes_;
  const uint64_t push_queue_max_bytes_;
  std::shared_ptr<Stub> stub_;  // shared with calls in flight
  std::shared_ptr<PushLane> push_lane_;
  std::shared_ptr<std::atomic<uint64_t>> failed_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace parley::rpc

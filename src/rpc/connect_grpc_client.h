// ConnectGrpcClient: the ConnectService of one remote connect node, calling
// its ConnectRPC over gRPC (callback API: no thread per call, nothing
// blocks). GrpcConnectDirectory hands these out, one per node incarnation.
//
// PushReply and KickReply have no error field: a call that fails (the node
// is gone, the deadline passed) answers an empty reply (nothing delivered,
// nothing closed), is logged, and is counted in failed_calls(). The node's
// clients then see a gap and sync.
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

  struct Stub;  // internal: the channel and stub, shared with calls in flight

 private:
  const std::string node_id_;
  const uint64_t epoch_;
  const std::string address_;
  const uint32_t timeout_ms_;
  std::shared_ptr<Stub> stub_;  // shared with calls in flight
  std::shared_ptr<std::atomic<uint64_t>> failed_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace parley::rpc

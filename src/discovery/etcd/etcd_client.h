// EtcdClient: etcd's v3 gRPC API (KV, Lease, Watch) over asynchronous gRPC
// calls, each with a deadline, spread over one or more endpoints.
//
// Endpoints are tried in the order given: calls go to the current one; when a
// call finds it unavailable, the client moves to the next (round robin) and
// retries the call there, at most once per endpoint; the last attempt waits
// (within its deadline) for its endpoint to connect. A call that may have
// reached etcd before failing is retried too, so callers write requests that
// are safe to repeat (Parley's are: create-if-absent transactions and puts
// under a compare, and its callers revoke what a failed call leaves behind).
//
// Thread-safe. Callbacks run on gRPC's threads and must not block; the
// *Sync forms block the calling thread (not for gRPC's threads).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "common/callback.h"
#include "common/status.h"
#include "etcdserverpb/rpc.grpc.pb.h"

namespace parley::discovery {

struct EtcdClientOptions {
  // host:port of etcd's client URL; several comma-separated, tried in order.
  std::string endpoints = "127.0.0.1:2379";
  // Extra time a call gets when its endpoint is not connected yet (dialing).
  int64_t dial_timeout_ms = 2'000;
  // Deadline of every unary call on a connected endpoint.
  int64_t request_timeout_ms = 5'000;
  // Upper bound of gRPC's reconnect backoff: how soon a restarted etcd is
  // noticed.
  int64_t reconnect_backoff_max_ms = 1'000;
  // HTTP/2 pings on idle streams, so that a hung etcd fails watches and
  // keepalives instead of leaving them silent. etcd refuses pings more
  // frequent than 5 s by default (--grpc-keepalive-min-time).
  int64_t keepalive_time_ms = 10'000;
  int64_t keepalive_timeout_ms = 5'000;
  // Largest response accepted (a Range of a whole prefix).
  int32_t max_receive_bytes = 16 * 1024 * 1024;
};

// INVALID_ARGUMENT naming the bad field, or OK.
Status ValidateEtcdClientOptions(const EtcdClientOptions& options);

// The stubs of one endpoint; streams hold it for their lifetime.
struct EtcdEndpoint {
  size_t index = 0;
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

// The end of the range holding every key that starts with `prefix`.
std::string PrefixRangeEnd(const std::string& prefix);

// Parley's Status for a gRPC status from etcd: UNAVAILABLE for transport
// failures and deadlines, NOT_FOUND for a missing lease, etc.
Status FromGrpcStatus(const grpc::Status& status);

class EtcdClient : public std::enable_shared_from_this<EtcdClient> {
 public:
  static StatusOr<std::shared_ptr<EtcdClient>> Create(EtcdClientOptions options);

  const EtcdClientOptions& options() const { return options_; }

  void Range(etcdserverpb::RangeRequest req, Callback<StatusOr<etcdserverpb::RangeResponse>> done);
  void Put(etcdserverpb::PutRequest req, Callback<StatusOr<etcdserverpb::PutResponse>> done);
  void DeleteRange(etcdserverpb::DeleteRangeRequest req,
                   Callback<StatusOr<etcdserverpb::DeleteRangeResponse>> done);
  void Txn(etcdserverpb::TxnRequest req, Callback<StatusOr<etcdserverpb::TxnResponse>> done);
  void Compact(etcdserverpb::CompactionRequest req,
               Callback<StatusOr<etcdserverpb::CompactionResponse>> done);
  void LeaseGrant(etcdserverpb::LeaseGrantRequest req,
                  Callback<StatusOr<etcdserverpb::LeaseGrantResponse>> done);
  void LeaseRevoke(etcdserverpb::LeaseRevokeRequest req,
                   Callback<StatusOr<etcdserverpb::LeaseRevokeResponse>> done);

  // Blocking forms, with the same deadlines and failover.
  StatusOr<etcdserverpb::RangeResponse> RangeSync(etcdserverpb::RangeRequest req);
  StatusOr<etcdserverpb::TxnResponse> TxnSync(etcdserverpb::TxnRequest req);
  StatusOr<etcdserverpb::LeaseRevokeResponse> LeaseRevokeSync(etcdserverpb::LeaseRevokeRequest req);

  // For streams: the endpoint calls currently go to, and how a stream
  // reports that it failed there (moves on to the next endpoint if it is
  // still the current one).
  std::shared_ptr<EtcdEndpoint> CurrentEndpoint() const;
  void EndpointFailed(size_t index);
  // The deadline for a unary call on `endpoint` starting now.
  std::chrono::system_clock::time_point Deadline(const EtcdEndpoint& endpoint) const;

  // Public for std::make_shared; use Create.
  EtcdClient(EtcdClientOptions options, std::vector<std::shared_ptr<EtcdEndpoint>> endpoints);

 private:
  template <typename Resp, typename Req, typename Invoke>
  void Call(Req req, Callback<StatusOr<Resp>> done, Invoke invoke, size_t attempts_left);
  template <typename Resp, typename Req, typename Invoke>
  StatusOr<Resp> CallSync(const Req& req, Invoke invoke);

  const EtcdClientOptions options_;
  const std::vector<std::shared_ptr<EtcdEndpoint>> endpoints_;
  std::atomic<size_t> current_{0};
};

}  // namespace parley::discovery

#include "discovery/etcd/etcd_client.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <utility>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

namespace parley::discovery {

namespace pb = etcdserverpb;

namespace {

// gRPC 1.51 frees its shared callback completion queue twice when the last
// channel or server using it goes on one of the queue's own threads (the
// bug rpc/grpc_callback_queue_anchor.h describes; ASan caught it here too).
// An immortal, portless server with a callback service holds one reference
// for the life of the process, so the count never reaches zero. The rpc
// room has the same anchor; discovery may not include that room.
void AnchorCallbackQueue() {
  static grpc::Server* const anchor = [] {
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(new grpc::CallbackGenericService);
    grpc::Server* server = builder.BuildAndStart().release();
    if (server == nullptr) std::abort();  // no port to fail on
    return server;
  }();
  (void)anchor;
}

std::vector<std::string> SplitEndpoints(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

}  // namespace

Status ValidateEtcdClientOptions(const EtcdClientOptions& o) {
  std::vector<std::string> endpoints = SplitEndpoints(o.endpoints);
  if (endpoints.empty()) return Status::InvalidArgument("etcd endpoints: none given");
  if (endpoints.size() > 16) return Status::InvalidArgument("etcd endpoints: at most 16");
  for (const std::string& e : endpoints) {
    size_t colon = e.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == e.size() ||
        e.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      return Status::InvalidArgument("etcd endpoint is not host:port: " + e);
    }
  }
  auto positive = [](int64_t v, int64_t max) { return v > 0 && v <= max; };
  if (!positive(o.dial_timeout_ms, 600'000)) {
    return Status::InvalidArgument("etcd dial_timeout_ms must be in (0, 600000]");
  }
  if (!positive(o.request_timeout_ms, 600'000)) {
    return Status::InvalidArgument("etcd request_timeout_ms must be in (0, 600000]");
  }
  if (!positive(o.reconnect_backoff_max_ms, 600'000)) {
    return Status::InvalidArgument("etcd reconnect_backoff_max_ms must be in (0, 600000]");
  }
  if (!positive(o.keepalive_time_ms, 3'600'000) || !positive(o.keepalive_timeout_ms, 600'000)) {
    return Status::InvalidArgument("etcd keepalive_time_ms/keepalive_timeout_ms out of range");
  }
  if (o.max_receive_bytes < 64 * 1024) {
    return Status::InvalidArgument("etcd max_receive_bytes must be at least 64 KiB");
  }
  return Status::Ok();
}

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key (etcd's convention)
}

Status FromGrpcStatus(const grpc::Status& s) {
  std::string message = "etcd: " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Status::Unavailable(std::move(message));
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return Status::InvalidArgument(std::move(message));
    case grpc::StatusCode::NOT_FOUND:
      return Status::NotFound(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

StatusOr<std::shared_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  AnchorCallbackQueue();
  if (Status s = ValidateEtcdClientOptions(options); !s.ok()) return s;
  grpc::ChannelArguments args;
  const int backoff_max = static_cast<int>(options.reconnect_backoff_max_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, backoff_max);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(100, backoff_max));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(100, backoff_max));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout_ms));
  args.SetMaxReceiveMessageSize(options.max_receive_bytes);
  // One subchannel per client rather than one shared by every client of the
  // process, so that tests' separate clients behave like separate processes.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);

  std::vector<std::shared_ptr<EtcdEndpoint>> endpoints;
  for (std::string& address : SplitEndpoints(options.endpoints)) {
    auto e = std::make_shared<EtcdEndpoint>();
    e->index = endpoints.size();
    e->address = address;
    e->channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    e->kv = pb::KV::NewStub(e->channel);
    e->lease = pb::Lease::NewStub(e->channel);
    e->watch = pb::Watch::NewStub(e->channel);
    endpoints.push_back(std::move(e));
  }
  return std::make_shared<EtcdClient>(std::move(options), std::move(endpoints));
}

EtcdClient::EtcdClient(EtcdClientOptions options,
                       std::vector<std::shared_ptr<EtcdEndpoint>> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {}

std::shared_ptr<EtcdEndpoint> EtcdClient::CurrentEndpoint() const {
  return endpoints_[current_.load() % endpoints_.size()];
}

void EtcdClient::EndpointFailed(size_t index) {
  size_t expected = index;
  current_.compare_exchange_strong(expected, (index + 1) % endpoints_.size());
}

std::chrono::system_clock::time_point EtcdClient::Deadline(const EtcdEndpoint& endpoint) const {
  int64_t ms = options_.request_timeout_ms;
  if (endpoint.channel->GetState(false) != GRPC_CHANNEL_READY) ms += options_.dial_timeout_ms;
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

template <typename Resp, typename Req, typename Invoke>
void EtcdClient::Call(Req req, Callback<StatusOr<Resp>> done, Invoke invoke, size_t attempts_left) {
  struct State {
    grpc::ClientContext ctx;
    Req req;
    Resp resp;
  };
  auto endpoint = CurrentEndpoint();
  auto state = std::make_shared<State>();
  state->req = std::move(req);
  state->ctx.set_deadline(Deadline(*endpoint));
  // The last endpoint to try waits (within the deadline) for a connection
  // that is being re-established, e.g. right after etcd restarted.
  state->ctx.set_wait_for_ready(attempts_left <= 1);
  invoke(*endpoint, &state->ctx, &state->req, &state->resp,
         [self = shared_from_this(), endpoint, state, done = std::move(done), invoke,
          attempts_left](grpc::Status s) mutable {
           if (s.ok()) return done(std::move(state->resp));
           const bool transport = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                                  s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
           if (transport) {
             self->EndpointFailed(endpoint->index);
             if (attempts_left > 1) {
               return self->Call<Resp>(std::move(state->req), std::move(done), invoke,
                                       attempts_left - 1);
             }
           }
           done(FromGrpcStatus(s));
         });
}

template <typename Resp, typename Req, typename Invoke>
StatusOr<Resp> EtcdClient::CallSync(const Req& req, Invoke invoke) {
  grpc::Status last;
  for (size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    auto endpoint = CurrentEndpoint();
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(*endpoint));
    ctx.set_wait_for_ready(attempt + 1 == endpoints_.size());
    Resp resp;
    last = invoke(*endpoint, &ctx, req, &resp);
    if (last.ok()) return resp;
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
        last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      break;
    }
    EndpointFailed(endpoint->index);
  }
  return FromGrpcStatus(last);
}

// The async stubs take a std::function; one adapter per method keeps Call
// generic.
#define PARLEY_ETCD_UNARY(Method, Service, Req, Resp)                                              \
  void EtcdClient::Method(pb::Req req, Callback<StatusOr<pb::Resp>> done) {                        \
    Call<pb::Resp>(                                                                                \
        std::move(req), std::move(done),                                                           \
        [](EtcdEndpoint& e, grpc::ClientContext* ctx, pb::Req* rq, pb::Resp* rs,                   \
           std::function<void(grpc::Status)> cb) { e.Service->async()->Method(ctx, rq, rs, cb); }, \
        endpoints_.size());                                                                        \
  }

PARLEY_ETCD_UNARY(Range, kv, RangeRequest, RangeResponse)
PARLEY_ETCD_UNARY(Put, kv, PutRequest, PutResponse)
PARLEY_ETCD_UNARY(DeleteRange, kv, DeleteRangeRequest, DeleteRangeResponse)
PARLEY_ETCD_UNARY(Txn, kv, TxnRequest, TxnResponse)
PARLEY_ETCD_UNARY(Compact, kv, CompactionRequest, CompactionResponse)
PARLEY_ETCD_UNARY(LeaseGrant, lease, LeaseGrantRequest, LeaseGrantResponse)
PARLEY_ETCD_UNARY(LeaseRevoke, lease, LeaseRevokeRequest, LeaseRevokeResponse)

#undef PARLEY_ETCD_UNARY

StatusOr<pb::RangeResponse> EtcdClient::RangeSync(pb::RangeRequest req) {
  return CallSync<pb::RangeResponse>(
      req, [](EtcdEndpoint& e, grpc::ClientContext* ctx, const pb::RangeRequest& rq,
              pb::RangeResponse* rs) { return e.kv->Range(ctx, rq, rs); });
}

StatusOr<pb::TxnResponse> EtcdClient::TxnSync(pb::TxnRequest req) {
  return CallSync<pb::TxnResponse>(
      req, [](EtcdEndpoint& e, grpc::ClientContext* ctx, const pb::TxnRequest& rq,
              pb::TxnResponse* rs) { return e.kv->Txn(ctx, rq, rs); });
}

StatusOr<pb::LeaseRevokeResponse> EtcdClient::LeaseRevokeSync(pb::LeaseRevokeRequest req) {
  return CallSync<pb::LeaseRevokeResponse>(
      req, [](EtcdEndpoint& e, grpc::ClientContext* ctx, const pb::LeaseRevokeRequest& rq,
              pb::LeaseRevokeResponse* rs) { return e.lease->LeaseRevoke(ctx, rq, rs); });
}

}  // namespace parley::discovery

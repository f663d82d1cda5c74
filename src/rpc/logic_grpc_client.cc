#include "rpc/logic_grpc_client.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "common/logging.h"
#include "common/stable_hash.h"
#include "parley/logic.grpc.pb.h"
#include "rpc/call_metadata.h"
#include "rpc/grpc_status.h"

namespace parley::rpc {
namespace {

using Async = LogicRPC::StubInterface::async_interface;
template <typename Req, typename Reply>
using AsyncMethod = void (Async::*)(grpc::ClientContext*, const Req*, Reply*,
                                    std::function<void(grpc::Status)>);

// Which failures a second attempt on another peer may follow.
enum class Retry {
  // Only a call that never reached a server.
  kIfNotSent,
  // Any UNAVAILABLE: running the call twice does no harm.
  kAnyUnavailable,
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename Req, typename Reply>
void SetError(const Req&, Reply& reply, const Status& status) {
  status.ToProto(reply.mutable_error());
}

// A batch has no error of its own: each send is answered.
void SetError(const SendBatch& req, SendBatchReply& reply, const Status& status) {
  reply.clear_replies();
  for (const SendRequest& r : req.requests()) {
    SendReply* out = reply.add_replies();
    out->set_client_id(r.client_id());
    status.ToProto(out->mutable_error());
  }
}

}  // namespace

// A logic node as the client sees it. Shared by the peer list and the calls
// in flight to it.
struct LogicPeer {
  LogicPeer(discovery::NodeInfo node, std::shared_ptr<grpc::Channel> ch,
            CircuitBreakerOptions breaker, const Clock& clock)
      : info(std::move(node)),
        channel(std::move(ch)),
        stub(LogicRPC::NewStub(channel)),
        breaker(breaker, clock),
        name_hash(StableHash64(info.node_id)) {}

  const discovery::NodeInfo info;
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<LogicRPC::Stub> stub;
  CircuitBreaker breaker;
  const uint64_t name_hash;  // for rendezvous picks by affinity
};

struct LogicGrpcClient::Core : std::enable_shared_from_this<Core> {
  Core(boost::asio::any_io_executor ex, LogicGrpcClientOptions opts, const Clock* c)
      : executor(std::move(ex)),
        options(std::move(opts)),
        own_clock(c == nullptr ? std::make_unique<SystemClock>() : nullptr),
        clock(c == nullptr ? *own_clock : *c) {}

  // A peer whose breaker is closed, other than `exclude`; null when there
  // is none. With an affinity (non-zero), the same peer for the same
  // affinity in every process while the peer set stays (rendezvous
  // hashing: a peer leaving moves only its own share); without, the next
  // round-robin. Breakers passed on the way whose cool-down is over are
  // probed.
  std::shared_ptr<LogicPeer> Pick(const std::string& exclude, uint64_t affinity) {
    std::vector<std::shared_ptr<LogicPeer>> probes;
    std::shared_ptr<LogicPeer> chosen;
    {
      std::lock_guard lock(mu);
      const size_t n = peers.size();
      uint64_t best = 0;
      for (size_t i = 0; i < n; ++i) {
        const std::shared_ptr<LogicPeer>& p = peers[(next + i) % n];
        if (p->breaker.TryStartProbe()) probes.push_back(p);
        if (p->info.address == exclude || !p->breaker.AllowsCalls()) continue;
        if (affinity == 0) {
          chosen = p;
          next = (next + i + 1) % n;
          break;
        }
        const uint64_t score = Mix64(affinity ^ p->name_hash);
        if (chosen == nullptr || score > best) {
          chosen = p;
          best = score;
        }
      }
    }
    for (auto& p : probes) Probe(std::move(p));
    return chosen;
  }

  // Waits for the peer to connect (not failing at once as calls do) and
  // asks it something cheap; any answer at all closes the breaker.
  void Probe(std::shared_ptr<LogicPeer> peer) {
    struct ProbeCall {
      grpc::ClientContext cc;
      AuthRequest req;
      AuthReply reply;
    };
    auto call = std::make_shared<ProbeCall>();
    call->cc.set_wait_for_ready(true);
    call->cc.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(options.probe_timeout_ms));
    call->cc.AddMetadata("x-request-id", NewRequestId());
    spdlog::info("event=logic_peer_probe node={} address={}", peer->info.node_id,
                 peer->info.address);
    LogicPeer* p = peer.get();
    p->stub->async()->Auth(&call->cc, &call->req, &call->reply,
                           [call, peer = std::move(peer)](grpc::Status s) {
                             if (IsPeerFailure(s.error_code())) {
                               peer->breaker.OnFailure();
                             } else {
                               peer->breaker.OnSuccess();
                             }
                             spdlog::info("event=logic_peer_probed node={} breaker={}",
                                          peer->info.node_id, StateName(peer->breaker.state()));
                           });
  }

  // Replaces the peers by the listed nodes: a peer whose address stays keeps
  // its channel, and its breaker unless the node restarted (new epoch).
  void Update(const std::vector<discovery::NodeInfo>& nodes) {
    std::vector<std::shared_ptr<LogicPeer>> old;
    std::lock_guard lock(mu);
    std::vector<std::shared_ptr<LogicPeer>> fresh;
    for (const discovery::NodeInfo& node : nodes) {
      if (node.address.empty()) continue;
      bool duplicate = false;
      for (const auto& p : fresh) duplicate = duplicate || p->info.address == node.address;
      if (duplicate) continue;
      if (fresh.size() >= options.max_peers) {
        spdlog::warn("event=logic_peers_over_limit max_peers={} listed={}", options.max_peers,
                     nodes.size());
        break;
      }
      std::shared_ptr<LogicPeer> kept;
      for (const auto& p : peers) {
        if (p->info.address == node.address) kept = p;
      }
      if (kept != nullptr && kept->info.node_id == node.node_id && kept->info.epoch == node.epoch) {
        fresh.push_back(std::move(kept));
        continue;
      }
      auto channel =
          kept != nullptr ? kept->channel : MakeGrpcChannel(node.address, options.channel);
      spdlog::info("event=logic_peer_joined node={} epoch={} address={}", node.node_id, node.epoch,
                   node.address);
      fresh.push_back(
          std::make_shared<LogicPeer>(node, std::move(channel), options.breaker, clock));
    }
    for (const auto& p : peers) {
      bool stays = false;
      for (const auto& f : fresh) stays = stays || f->info.address == p->info.address;
      if (!stays) {
        spdlog::info("event=logic_peer_left node={} epoch={} address={}", p->info.node_id,
                     p->info.epoch, p->info.address);
      }
    }
    old.swap(peers);
    peers = std::move(fresh);
    if (next >= peers.size()) next = 0;
  }

  const boost::asio::any_io_executor executor;
  const LogicGrpcClientOptions options;
  const std::unique_ptr<SystemClock> own_clock;
  const Clock& clock;

  mutable std::mutex mu;
  // State below is protected by mu.
  std::vector<std::shared_ptr<LogicPeer>> peers;
  size_t next = 0;  // where the next round-robin pick starts

  std::atomic<int64_t> in_flight{0};  // calls started and not yet answered
};

namespace {

// One call, across its attempts.
template <typename Req, typename Reply>
struct Call : std::enable_shared_from_this<Call<Req, Reply>> {
  std::shared_ptr<LogicGrpcClient::Core> core;
  AsyncMethod<Req, Reply> method;
  Retry retry;
  logic::CallContext ctx;  // deadline_ms set: the one of every attempt
  uint64_t affinity = 0;   // see AffinityOf
  Req req;
  Reply reply;
  Callback<Reply> done;
  std::unique_ptr<grpc::ClientContext> cc;  // the attempt's
  bool retried = false;
  std::string failed_address;
  grpc::Status first_failure;

  void Fail(const Status& status) {
    Reply r;
    SetError(req, r, status);
    Complete(std::move(r));
  }

  void Complete(Reply r) {
    core->in_flight.fetch_sub(1, std::memory_order_relaxed);
    done(std::move(r));
  }

  // Answers from the executor, never inside the caller's call.
  void FailSoon(Status status) {
    boost::asio::post(core->executor, [self = this->shared_from_this(),
                                       status = std::move(status)] { self->Fail(status); });
  }

  void Attempt() {
    if (NowMs() >= ctx.deadline_ms) return FailSoon(Status::Unavailable("deadline exceeded"));
    std::shared_ptr<LogicPeer> peer = core->Pick(failed_address, affinity);
    if (peer == nullptr) {
      return FailSoon(retried ? FromGrpcStatus(first_failure)
                              : Status::Unavailable("no logic node available"));
    }
    cc = std::make_unique<grpc::ClientContext>();
    WriteCallContext(ctx, 0, *cc);
    // A channel not connected when the call starts fails it before anything
    // is sent if the connection cannot be made.
    const bool was_connected = peer->channel->GetState(false) == GRPC_CHANNEL_READY;
    reply.Clear();
    LogicPeer* p = peer.get();
    (p->stub->async()->*method)(
        cc.get(), &req, &reply,
        [self = this->shared_from_this(), peer = std::move(peer), was_connected](grpc::Status s) {
          self->Finished(*peer, was_connected, s);
        });
  }

  void Finished(LogicPeer& peer, bool was_connected, const grpc::Status& s) {
    if (s.ok()) {
      peer.breaker.OnSuccess();
      return Complete(std::move(reply));
    }
    if (IsPeerFailure(s.error_code())) {
      peer.breaker.OnFailure();
    } else {
      peer.breaker.OnSuccess();  // it answered
    }
    const bool unavailable = s.error_code() == grpc::StatusCode::UNAVAILABLE;
    // The call had no connection when it started and did not get one: it
    // failed at the connect, before a server saw it. (A connection made
    // during the call and lost before the answer is taken for the same; that
    // narrow case may run a kIfNotSent call twice.)
    const bool not_sent = !was_connected;
    const bool retry_now = !retried && unavailable && (retry == Retry::kAnyUnavailable || not_sent);
    spdlog::log(retry_now ? spdlog::level::debug : spdlog::level::warn,
                "event=logic_call_failed rid={} node={} code={} error=\"{}\" retry={}",
                ctx.request_id, peer.info.node_id, static_cast<int>(s.error_code()),
                s.error_message(), retry_now);
    if (retry_now) {
      retried = true;
      failed_address = peer.info.address;
      first_failure = s;
      return Attempt();
    }
    Fail(FromGrpcStatus(s));
  }
};

// Which logic node a call prefers: the one that holds the caller's per-user
// rate buckets (sends, reads, syncs, lookups, groups) and warm caches, so
// that those limits hold across the cluster as on one node. A login's calls
// go by its token: HTTP calls carry it, a socket's calls the route key
// connect made of it. A login attempt goes by the account it tries and a
// registration by the client's address only to keep caches warm: the auth
// buckets (per network, per account's failed logins) live in Redis
// (state::AuthRateLimits), so those limits hold whichever node a register
// or login meets. 0: round-robin.
template <typename Req>
uint64_t AffinityOf(const logic::CallContext& ctx, const Req& req) {
  auto of = [](std::string_view key) { return key.empty() ? 0 : StableHash64(key); };
  if (ctx.route_key != 0) return ctx.route_key;
  if (!ctx.token.empty()) return of(ctx.token);
  if (ctx.user_id != 0) return Mix64(ctx.user_id);
  if constexpr (std::is_same_v<Req, LoginRequest>) return of(req.username());
  if constexpr (std::is_same_v<Req, RegisterRequest>) return of(ctx.client_ip);
  return 0;
}

template <typename Req, typename Reply>
void Start(const std::shared_ptr<LogicGrpcClient::Core>& core, AsyncMethod<Req, Reply> method,
           Retry retry, logic::CallContext ctx, Req req, Callback<Reply> done) {
  auto call = std::make_shared<Call<Req, Reply>>();
  call->core = core;
  call->method = method;
  call->retry = retry;
  if (ctx.deadline_ms == 0) ctx.deadline_ms = NowMs() + core->options.default_timeout_ms;
  call->affinity = AffinityOf(ctx, req);
  call->ctx = std::move(ctx);
  call->req = std::move(req);
  call->done = std::move(done);
  if (core->in_flight.fetch_add(1, std::memory_order_relaxed) >=
      core->options.max_calls_in_flight) {
    return call->FailSoon(Status::Unavailable("too many logic calls in flight"));
  }
  call->Attempt();
}

}  // namespace

StatusOr<std::unique_ptr<LogicGrpcClient>> LogicGrpcClient::Create(
    boost::asio::any_io_executor executor, discovery::Discovery& discovery,
    LogicGrpcClientOptions options, const Clock* clock) {
  if (Status s = Validate(options.channel); !s.ok()) return s;
  if (options.role.empty() || options.default_timeout_ms == 0 || options.probe_timeout_ms == 0 ||
      options.max_peers == 0 || options.max_calls_in_flight == 0 ||
      options.breaker.failure_threshold == 0 || options.breaker.open_ms == 0) {
    return Status::InvalidArgument("logic grpc client: empty role or a zero limit");
  }
  auto core = std::make_shared<Core>(std::move(executor), std::move(options), clock);
  std::unique_ptr<LogicGrpcClient> client(new LogicGrpcClient(core));
  std::weak_ptr<Core> weak = core;
  client->watch_ =
      discovery.WatchRole(core->options.role, [weak](std::vector<discovery::NodeInfo> nodes) {
        if (auto c = weak.lock()) c->Update(nodes);
      });
  return client;
}

LogicGrpcClient::LogicGrpcClient(std::shared_ptr<Core> core) : core_(std::move(core)) {}

LogicGrpcClient::~LogicGrpcClient() {
  watch_.reset();
  // Calls in flight keep their peer; nothing new starts.
  std::lock_guard lock(core_->mu);
  core_->peers.clear();
}

size_t LogicGrpcClient::peer_count() const {
  std::lock_guard lock(core_->mu);
  return core_->peers.size();
}

std::optional<CircuitBreaker::State> LogicGrpcClient::breaker_state(
    const std::string& address) const {
  std::lock_guard lock(core_->mu);
  for (const auto& p : core_->peers) {
    if (p->info.address == address) return p->breaker.state();
  }
  return std::nullopt;
}

void LogicGrpcClient::Register(logic::CallContext ctx, RegisterRequest req,
                               Callback<RegisterReply> done) {
  Start<RegisterRequest, RegisterReply>(core_, &Async::Register, Retry::kIfNotSent, std::move(ctx),
                                        std::move(req), std::move(done));
}
void LogicGrpcClient::Login(logic::CallContext ctx, LoginRequest req, Callback<LoginReply> done) {
  Start<LoginRequest, LoginReply>(core_, &Async::Login, Retry::kIfNotSent, std::move(ctx),
                                  std::move(req), std::move(done));
}
void LogicGrpcClient::Logout(logic::CallContext ctx, LogoutRequest req,
                             Callback<LogoutReply> done) {
  // A second logout of a revoked session would say unauthenticated.
  Start<LogoutRequest, LogoutReply>(core_, &Async::Logout, Retry::kIfNotSent, std::move(ctx),
                                    std::move(req), std::move(done));
}
void LogicGrpcClient::Auth(logic::CallContext ctx, AuthRequest req, Callback<AuthReply> done) {
  Start<AuthRequest, AuthReply>(core_, &Async::Auth, Retry::kAnyUnavailable, std::move(ctx),
                                std::move(req), std::move(done));
}
void LogicGrpcClient::GetUser(logic::CallContext ctx, GetUserRequest req,
                              Callback<GetUserReply> done) {
  Start<GetUserRequest, GetUserReply>(core_, &Async::GetUser, Retry::kAnyUnavailable,
                                      std::move(ctx), std::move(req), std::move(done));
}
void LogicGrpcClient::CreateGroup(logic::CallContext ctx, CreateGroupRequest req,
                                  Callback<GroupReply> done) {
  Start<CreateGroupRequest, GroupReply>(core_, &Async::CreateGroup, Retry::kIfNotSent,
                                        std::move(ctx), std::move(req), std::move(done));
}
void LogicGrpcClient::GetGroup(logic::CallContext ctx, GetGroupRequest req,
                               Callback<GroupReply> done) {
  Start<GetGroupRequest, GroupReply>(core_, &Async::GetGroup, Retry::kAnyUnavailable,
                                     std::move(ctx), std::move(req), std::move(done));
}
void LogicGrpcClient::AddMember(logic::CallContext ctx, AddMemberRequest req,
                                Callback<MembershipReply> done) {
  // A repeat would say already_exists for a member the first run added.
  Start<AddMemberRequest, MembershipReply>(core_, &Async::AddMember, Retry::kIfNotSent,
                                           std::move(ctx), std::move(req), std::move(done));
}
void LogicGrpcClient::RemoveMember(logic::CallContext ctx, RemoveMemberRequest req,
                                   Callback<MembershipReply> done) {
  Start<RemoveMemberRequest, MembershipReply>(core_, &Async::RemoveMember, Retry::kIfNotSent,
                                              std::move(ctx), std::move(req), std::move(done));
}
void LogicGrpcClient::Settings(logic::CallContext ctx, SettingsRequest req,
                               Callback<SettingsReply> done) {
  // Setting a value twice leaves it as once.
  Start<SettingsRequest, SettingsReply>(core_, &Async::Settings, Retry::kAnyUnavailable,
                                        std::move(ctx), std::move(req), std::move(done));
}
void LogicGrpcClient::ListConversations(logic::CallContext ctx, ListConversationsRequest req,
                                        Callback<ListConversationsReply> done) {
  Start<ListConversationsRequest, ListConversationsReply>(core_, &Async::ListConversations,
                                                          Retry::kAnyUnavailable, std::move(ctx),
                                                          std::move(req), std::move(done));
}
void LogicGrpcClient::Sync(logic::CallContext ctx, SyncRequest req, Callback<SyncReply> done) {
  Start<SyncRequest, SyncReply>(core_, &Async::Sync, Retry::kAnyUnavailable, std::move(ctx),
                                std::move(req), std::move(done));
}
void LogicGrpcClient::Send(logic::CallContext ctx, SendBatch req, Callback<SendBatchReply> done) {
  Start<SendBatch, SendBatchReply>(core_, &Async::Send, Retry::kAnyUnavailable, std::move(ctx),
                                   std::move(req), std::move(done));
}
void LogicGrpcClient::Read(logic::CallContext ctx, ReadRequest req, Callback<ReadReply> done) {
  // A read cursor only moves forward: a repeat changes nothing.
  Start<ReadRequest, ReadReply>(core_, &Async::Read, Retry::kAnyUnavailable, std::move(ctx),
                                std::move(req), std::move(done));
}
void LogicGrpcClient::Connect(logic::CallContext ctx, ConnectRequest req,
                              Callback<ConnectReply> done) {
  Start<ConnectRequest, ConnectReply>(core_, &Async::Connect, Retry::kIfNotSent, std::move(ctx),
                                      std::move(req), std::move(done));
}
void LogicGrpcClient::Disconnect(logic::CallContext ctx, DisconnectRequest req,
                                 Callback<DisconnectReply> done) {
  Start<DisconnectRequest, DisconnectReply>(core_, &Async::Disconnect, Retry::kAnyUnavailable,
                                            std::move(ctx), std::move(req), std::move(done));
}

void LogicGrpcClient::Ready(logic::CallContext ctx, Callback<Status> done) {
  logic::CallContext probe;
  probe.request_id = std::move(ctx.request_id);
  probe.deadline_ms =
      ctx.deadline_ms != 0 ? ctx.deadline_ms : NowMs() + core_->options.probe_timeout_ms;
  Start<AuthRequest, AuthReply>(core_, &Async::Auth, Retry::kAnyUnavailable, std::move(probe),
                                AuthRequest(), [done = std::move(done)](AuthReply r) {
                                  // Without credentials logic says unauthenticated: it answered.
                                  if (r.error().code() == UNAVAILABLE)
                                    return done(Status::FromProto(r.error()));
                                  done(Status::Ok());
                                });
}

}  // namespace parley::rpc

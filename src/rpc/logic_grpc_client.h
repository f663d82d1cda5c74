// LogicGrpcClient: the LogicService of a cluster's api and connect processes,
// calling LogicRPC on the live logic nodes over gRPC (callback API: no
// thread per call, nothing blocks).
//
// - Peers: the nodes of role "logic" that a Discovery watch lists, each with
//   its own channel (kept while its address stays listed) and its own
//   CircuitBreaker (circuit_breaker.h). Calls go to peers whose breaker is
//   closed: a call with an affinity (its login's token or route key, the
//   login account it tries, or the registering address) to the same peer
//   from every process while the peers stay the same (rendezvous hashing),
//   so that logic's per-user and per-account limits and caches see all of
//   that caller's calls; a call without one round-robin. A peer that fails
//   moves its callers to the next choice until its breaker closes again.
// - Context: the CallContext travels as metadata and the call's deadline
//   (call_metadata.h); a context without a deadline gets
//   options.default_timeout_ms.
// - Failures (replies' `error`, never a lost callback): no peer with a closed
//   breaker, a deadline already passed, or max_calls_in_flight reached,
//   answer `unavailable` at once (not queued); a transport failure answers
//   as grpc_status.h maps it. A send batch, whose reply has no error of its
//   own, gets the error in the reply of each of its sends.
// - Retry: once, on another peer, within the same deadline, for a call that
//   failed UNAVAILABLE either before it reached a server (its channel had no
//   connection when it started and could not make one) or, for the methods a second run
//   cannot harm, at any point: Send (its requests carry client ids, and
//   logic's idempotency makes a repeat return the first ack), and the
//   reads and idempotent updates (Auth, GetUser, GetGroup,
//   ListConversations, Sync, Read, Disconnect).
// - Breaker probes: a breaker whose cool-down has passed is probed by the
//   client itself, the next time a call looks for a peer: an Auth call without
//   credentials that waits up to options.probe_timeout_ms for the peer to
//   connect. Any answer from logic closes the breaker; callers' calls never
//   wait on a probe.
// - Ready: the same Auth call without credentials, on a peer picked as for
//   any call: OK when a logic node answers LogicRPC at all (it says
//   unauthenticated), unavailable when none does or it says unavailable.
//   Whether that node's own dependencies answer is its own /readyz; LogicRPC
//   has no readiness method and gRPC's health service has no C++ client in
//   Debian's packages.
//
// Thread-safe. `done` runs on a gRPC thread, or on `executor` for the
// answers given at once; it must not block. The client may be destroyed
// with calls in flight (they complete); `executor`'s context must outlive
// them, `discovery` must outlive the client.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "discovery/discovery.h"
#include "logic/logic_service.h"
#include "rpc/circuit_breaker.h"
#include "rpc/grpc_channel_options.h"

namespace parley::rpc {

struct LogicGrpcClientOptions {
  // The discovery role whose nodes serve LogicRPC.
  std::string role = "logic";
  GrpcChannelOptions channel;
  CircuitBreakerOptions breaker;
  // Deadline of a call whose CallContext has none, ms from its start.
  uint32_t default_timeout_ms = 10'000;
  // Deadline of a breaker's probe, and of Ready without a deadline, ms.
  uint32_t probe_timeout_ms = 2'000;
  // Logic nodes followed at most; nodes listed beyond it are ignored.
  uint32_t max_peers = 256;
  // Calls started and not yet answered, at most; beyond it a call is
  // answered unavailable at once.
  uint32_t max_calls_in_flight = 100'000;
};

class LogicGrpcClient final : public logic::LogicService {
 public:
  // INVALID_ARGUMENT for invalid options. `clock` times the breakers'
  // cool-downs (the system clock when null) and must outlive the client and
  // its calls; deadlines are always on the system clock.
  static StatusOr<std::unique_ptr<LogicGrpcClient>> Create(boost::asio::any_io_executor executor,
                                                           discovery::Discovery& discovery,
                                                           LogicGrpcClientOptions options = {},
                                                           const Clock* clock = nullptr);
  ~LogicGrpcClient() override;
  LogicGrpcClient(const LogicGrpcClient&) = delete;
  LogicGrpcClient& operator=(const LogicGrpcClient&) = delete;

  // Logic nodes known now (from the last discovery list).
  size_t peer_count() const;
  // The breaker of the peer at `address`; nullopt when none is listed.
  std::optional<CircuitBreaker::State> breaker_state(const std::string& address) const;

  void Register(logic::CallContext ctx, RegisterRequest req, Callback<RegisterReply> done) override;
  void Login(logic::CallContext ctx, LoginRequest req, Callback<LoginReply> done) override;
  void Logout(logic::CallContext ctx, LogoutRequest req, Callback<LogoutReply> done) override;
  void Auth(logic::CallContext ctx, AuthRequest req, Callback<AuthReply> done) override;
  void GetUser(logic::CallContext ctx, GetUserRequest req, Callback<GetUserReply> done) override;
  void CreateGroup(logic::CallContext ctx, CreateGroupRequest req,
                   Callback<GroupReply> done) override;
  void GetGroup(logic::CallContext ctx, GetGroupRequest req, Callback<GroupReply> done) override;
  void AddMember(logic::CallContext ctx, AddMemberRequest req,
                 Callback<MembershipReply> done) override;
  void RemoveMember(logic::CallContext ctx, RemoveMemberRequest req,
                    Callback<MembershipReply> done) override;
  void Settings(logic::CallContext ctx, SettingsRequest req, Callback<SettingsReply> done) override;
  void ListConversations(logic::CallContext ctx, ListConversationsRequest req,
                         Callback<ListConversationsReply> done) override;
  void Sync(logic::CallContext ctx, SyncRequest req, Callback<SyncReply> done) override;
  void Send(logic::CallContext ctx, SendBatch req, Callback<SendBatchReply> done) override;
  void Read(logic::CallContext ctx, ReadRequest req, Callback<ReadReply> done) override;
  void Connect(logic::CallContext ctx, ConnectRequest req, Callback<ConnectReply> done) override;
  void Disconnect(logic::CallContext ctx, DisconnectRequest req,
                  Callback<DisconnectReply> done) override;
  void Ready(logic::CallContext ctx, Callback<Status> done) override;

  struct Core;  // internal: peers and settings, shared with calls in flight

 private:
  explicit LogicGrpcClient(std::shared_ptr<Core> core);

  std::shared_ptr<Core> core_;
  std::unique_ptr<discovery::Watch> watch_;
};

}  // namespace parley::rpc

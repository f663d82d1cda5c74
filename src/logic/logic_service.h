// LogicService: the LogicRPC service (proto/parley/logic.proto) as a C++
// interface. The api and connect tiers hold a LogicService&; in embedded mode
// it is the Logic object itself, in cluster mode a gRPC client. Every method
// returns at once and calls `done` exactly once, on a thread of the
// implementation; replies carry their outcome in `error`. Thread-safe.
#pragma once

#include "common/callback.h"
#include "parley/logic.pb.h"

namespace parley::logic {

class LogicService {
 public:
  virtual ~LogicService() = default;

  virtual void Register(rpc::RegisterRequest req, Callback<rpc::RegisterReply> done) = 0;
  virtual void Login(rpc::LoginRequest req, Callback<rpc::LoginReply> done) = 0;
  // Revokes the token at once and kicks its WebSockets with 4001.
  virtual void Logout(rpc::LogoutRequest req, Callback<rpc::LogoutReply> done) = 0;
  virtual void Auth(rpc::AuthRequest req, Callback<rpc::AuthReply> done) = 0;
  virtual void GetUser(rpc::GetUserRequest req, Callback<rpc::GetUserReply> done) = 0;

  virtual void CreateGroup(rpc::CreateGroupRequest req, Callback<rpc::GroupReply> done) = 0;
  virtual void GetGroup(rpc::GetGroupRequest req, Callback<rpc::GroupReply> done) = 0;
  virtual void AddMember(rpc::AddMemberRequest req, Callback<rpc::MembershipReply> done) = 0;
  virtual void RemoveMember(rpc::RemoveMemberRequest req, Callback<rpc::MembershipReply> done) = 0;

  virtual void ListConversations(rpc::ListConversationsRequest req,
                                 Callback<rpc::ListConversationsReply> done) = 0;
  virtual void Sync(rpc::SyncRequest req, Callback<rpc::SyncReply> done) = 0;

  // Accepts a message: validates, rate-limits, checks membership and
  // idempotency, assigns msg_id and seq, and replies once the message is
  // durable. Requests of one caller to one conversation get seqs in the order
  // of the calls.
  virtual void Send(rpc::SendRequest req, Callback<rpc::SendReply> done) = 0;
  virtual void Read(rpc::ReadRequest req, Callback<rpc::ReadReply> done) = 0;

  // A WebSocket of the token's user opened on (node_id, conn_id): registers
  // presence and returns the user's conversations for `hello`.
  virtual void Connect(rpc::ConnectRequest req, Callback<rpc::ConnectReply> done) = 0;
  virtual void Disconnect(rpc::DisconnectRequest req, Callback<rpc::DisconnectReply> done) = 0;

  // OK while the logic tier and its dependencies answer; for /readyz.
  virtual void Ready(Callback<Status> done) = 0;
};

}  // namespace parley::logic

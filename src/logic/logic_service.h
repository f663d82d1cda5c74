// LogicService: the LogicRPC service (proto/parley/logic.proto) as a C++
// interface. The api and connect tiers hold a LogicService&; in embedded mode
// it is the Logic facade itself, in cluster mode a gRPC client.
//
// Every method takes the caller's CallContext, returns at once and calls
// `done` exactly once, on a thread of the implementation; replies carry their
// outcome in `error`. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/callback.h"
#include "common/status.h"
#include "parley/logic.pb.h"

namespace parley::logic {

// Who calls, for whom, and until when. Over gRPC it travels as metadata and
// the call's deadline, never in the request messages, so that one piece of
// code (logic) decides who the caller is.
struct CallContext {
  // Follows the request across tiers and processes, in every log line.
  std::string request_id;
  // The caller's credentials, one of:
  //  - `token`: a bearer token (the api tier, per HTTP request; Connect);
  //  - `user_id` + `session_key`: a socket opened by Connect (the connect
  //    tier). The session is checked on every call, so a logout on any node
  //    refuses the socket's next call at once.
  // Register, Login and Ready take no credentials.
  std::string token;
  uint64_t user_id = 0;
  std::string session_key;
  // The client's address, for per-IP limits (Register, Login).
  std::string client_ip;
  // The connection a call came from (connect tier), so that pushes caused by
  // it skip that connection: it gets the reply instead.
  std::string origin_node;
  uint64_t origin_conn = 0;
  // Which logic node serves the call in a cluster (LogicGrpcClient): calls
  // with the same key go to the same node, where the caller's rate buckets
  // and caches are. A socket sets its token's StableHash64, so that its
  // calls meet the node of the same login's HTTP calls (which go by the
  // token itself); 0: derived from the credentials. Never sent to logic.
  uint64_t route_key = 0;
  // Absolute deadline, ms on the system clock; 0 for none. A call not
  // started by then fails with UNAVAILABLE ("deadline exceeded"); a send that
  // was not appended by then is not appended.
  int64_t deadline_ms = 0;
};

class LogicService {
 public:
  virtual ~LogicService() = default;

  virtual void Register(CallContext ctx, rpc::RegisterRequest req,
                        Callback<rpc::RegisterReply> done) = 0;
  virtual void Login(CallContext ctx, rpc::LoginRequest req, Callback<rpc::LoginReply> done) = 0;
  // Revokes the caller's session: once `done` runs, every logic node refuses
  // it; its WebSockets are then kicked with 4001.
  virtual void Logout(CallContext ctx, rpc::LogoutRequest req, Callback<rpc::LogoutReply> done) = 0;
  // Resolves the caller's credentials to its user.
  virtual void Auth(CallContext ctx, rpc::AuthRequest req, Callback<rpc::AuthReply> done) = 0;
  // By id, else by username; with neither, the caller itself.
  virtual void GetUser(CallContext ctx, rpc::GetUserRequest req,
                       Callback<rpc::GetUserReply> done) = 0;

  // Membership changes are seen by every logic node before `done` runs.
  virtual void CreateGroup(CallContext ctx, rpc::CreateGroupRequest req,
                           Callback<rpc::GroupReply> done) = 0;
  virtual void GetGroup(CallContext ctx, rpc::GetGroupRequest req,
                        Callback<rpc::GroupReply> done) = 0;
  virtual void AddMember(CallContext ctx, rpc::AddMemberRequest req,
                         Callback<rpc::MembershipReply> done) = 0;
  virtual void RemoveMember(CallContext ctx, rpc::RemoveMemberRequest req,
                            Callback<rpc::MembershipReply> done) = 0;

  // Who may add the caller to groups (rpc::SettingsRequest); reads and
  // changes only the caller's own settings.
  virtual void Settings(CallContext ctx, rpc::SettingsRequest req,
                        Callback<rpc::SettingsReply> done) = 0;

  // One page of the caller's conversations (see rpc::ListConversationsRequest).
  virtual void ListConversations(CallContext ctx, rpc::ListConversationsRequest req,
                                 Callback<rpc::ListConversationsReply> done) = 0;
  virtual void Sync(CallContext ctx, rpc::SyncRequest req, Callback<rpc::SyncReply> done) = 0;

  // Accepts a batch of messages from one caller: validates, rate-limits,
  // checks membership and idempotency, assigns msg_id and seq, and replies
  // once the accepted ones are durable. replies[i] answers requests[i]. The
  // requests of one batch get seqs in batch order; a caller that needs order
  // across batches (one connection) sends its next batch after this reply.
  virtual void Send(CallContext ctx, rpc::SendBatch req, Callback<rpc::SendBatchReply> done) = 0;
  virtual void Read(CallContext ctx, rpc::ReadRequest req, Callback<rpc::ReadReply> done) = 0;

  // A WebSocket opened on (node_id, node_epoch, conn_id) with ctx.token:
  // checks the token, registers presence, and returns the user, the session
  // key for later calls, and the first page of conversations for `hello`.
  virtual void Connect(CallContext ctx, rpc::ConnectRequest req,
                       Callback<rpc::ConnectReply> done) = 0;
  virtual void Disconnect(CallContext ctx, rpc::DisconnectRequest req,
                          Callback<rpc::DisconnectReply> done) = 0;

  // OK while the logic tier and its dependencies answer; for /readyz.
  virtual void Ready(CallContext ctx, Callback<Status> done) = 0;
};

}  // namespace parley::logic

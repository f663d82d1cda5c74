// Logic: the domain core behind LogicService, the same in embedded and
// cluster mode. A thin facade: it checks each call's deadline and
// credentials and hands the call to the part that owns its state:
//   Accounts      registration, login, sessions, who a caller is
//   Groups        groups and who may change them
//   History       conversation lists, sync, read cursors, the recent window
//   SendPipeline  admission, idempotency, seqs, append, ack
//   Fanout        read receipts and kicks to connect nodes
// State that every logic node must agree on (seqs, idempotency records,
// sessions, membership) lives behind the state/ seams in LogicDeps, so any
// number of facades, in one process or many, serve the same users.
//
// Threading: the parts live on one strand of the executor given at
// construction; public methods may be called from any thread, and callbacks
// run on that strand. Its dependencies must outlive it.
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include "logic/accounts.h"
#include "logic/fanout.h"
#include "logic/groups.h"
#include "logic/history.h"
#include "logic/logic_deps.h"
#include "logic/logic_service.h"
#include "logic/send_pipeline.h"
#include "logic/session_purger.h"

namespace parley::logic {

class Logic final : public LogicService {
 public:
  static StatusOr<std::unique_ptr<Logic>> Create(boost::asio::any_io_executor executor,
                                                 LogicDeps deps);
  ~Logic() override;

  void Register(CallContext ctx, rpc::RegisterRequest req,
                Callback<rpc::RegisterReply> done) override;
  void Login(CallContext ctx, rpc::LoginRequest req, Callback<rpc::LoginReply> done) override;
  void Logout(CallContext ctx, rpc::LogoutRequest req, Callback<rpc::LogoutReply> done) override;
  void Auth(CallContext ctx, rpc::AuthRequest req, Callback<rpc::AuthReply> done) override;
  void GetUser(CallContext ctx, rpc::GetUserRequest req, Callback<rpc::GetUserReply> done) override;
  void CreateGroup(CallContext ctx, rpc::CreateGroupRequest req,
                   Callback<rpc::GroupReply> done) override;
  void GetGroup(CallContext ctx, rpc::GetGroupRequest req, Callback<rpc::GroupReply> done) override;
  void AddMember(CallContext ctx, rpc::AddMemberRequest req,
                 Callback<rpc::MembershipReply> done) override;
  void RemoveMember(CallContext ctx, rpc::RemoveMemberRequest req,
                    Callback<rpc::MembershipReply> done) override;
  void Settings(CallContext ctx, rpc::SettingsRequest req,
                Callback<rpc::SettingsReply> done) override;
  void ListConversations(CallContext ctx, rpc::ListConversationsRequest req,
                         Callback<rpc::ListConversationsReply> done) override;
  void Sync(CallContext ctx, rpc::SyncRequest req, Callback<rpc::SyncReply> done) override;
  void Send(CallContext ctx, rpc::SendBatch req, Callback<rpc::SendBatchReply> done) override;
  void Read(CallContext ctx, rpc::ReadRequest req, Callback<rpc::ReadReply> done) override;
  void Connect(CallContext ctx, rpc::ConnectRequest req, Callback<rpc::ConnectReply> done) override;
  void Disconnect(CallContext ctx, rpc::DisconnectRequest req,
                  Callback<rpc::DisconnectReply> done) override;
  void Ready(CallContext ctx, Callback<Status> done) override;

  // Stops background work (the session purge) so that the executor can run
  // out of work at shutdown. Calls keep being served.
  void Stop() { purger_.Stop(); }

 private:
  Logic(boost::asio::any_io_executor executor, LogicDeps deps,
        std::unique_ptr<PasswordHasher> hasher);

  // Runs `op` on the strand and hands its reply to `done`.
  template <typename R>
  void Run(Task<R> op, Callback<R> done);
  // Checks the deadline and the caller, then runs op(caller) on the strand.
  template <typename R, typename Op>
  void RunAs(CallContext ctx, Callback<R> done, Op op);
  template <typename R, typename Op>
  Task<R> AsCaller(CallContext ctx, Op op);
  bool Expired(const CallContext& ctx) const;

  Task<rpc::LogoutReply> DoLogout(CallContext ctx);
  Task<rpc::ConnectReply> DoConnect(CallContext ctx, rpc::ConnectRequest req);
  Task<rpc::ListConversationsReply> DoListConversations(Caller caller,
                                                        rpc::ListConversationsRequest req);
  // Whether `user_id` is in a conversation of `caller` (a private one, or a
  // group both are in): who may see the user's online state.
  Task<bool> SharesConversation(uint64_t caller, uint64_t user_id);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  LogicDeps deps_;
  Accounts accounts_;
  Fanout fanout_;
  Groups groups_;
  History history_;
  SendPipeline sends_;
  SessionPurger purger_;  // options.session_purge_interval_ms
};

}  // namespace parley::logic

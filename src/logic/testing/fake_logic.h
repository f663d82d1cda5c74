// FakeLogic: the one test double of LogicService, shared by the tests of its
// callers (api, connect). It is a small in-memory model of the logic tier
// (users, tokens and sessions, groups, conversations with gap-free seqs,
// idempotent batched sends, read cursors, presence), so that tests of a
// caller exercise real round trips without a store or a log. On top of the
// model a test can:
//  - see every call with its CallContext (Calls<Req>(), Last<Req>(),
//    Contexts(method));
//  - script the reply of a method (Script<Req, Reply>(fn)) instead of the
//    model's;
//  - hold the replies of a method and release them later (Hold/Release), to
//    test what a caller does while a call is in flight.
//
// As the real logic tier: every call except Register, Login and Ready needs
// credentials (ctx.token, or ctx.user_id + ctx.session_key of a live
// session; Disconnect needs only ctx.user_id, so that a socket of a revoked
// session can still be taken out of presence); a call whose ctx.deadline_ms
// has passed (by `clock`) fails UNAVAILABLE; replies run on a thread of the
// fake's own, never inside the call.
//
// Thread-safe. Destroy it only after every caller stopped calling; replies
// still held at destruction are dropped, never run.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "logic/logic_service.h"

namespace parley::logic::testing {

enum class Method {
  kRegister,
  kLogin,
  kLogout,
  kAuth,
  kGetUser,
  kCreateGroup,
  kGetGroup,
  kAddMember,
  kRemoveMember,
  kSettings,
  kListConversations,
  kSync,
  kSend,
  kRead,
  kConnect,
  kDisconnect,
  kReady,
};
inline constexpr int kMethodCount = static_cast<int>(Method::kReady) + 1;

// A recorded call: its context and request.
template <typename Req>
struct Recorded {
  CallContext ctx;
  Req req;
};

class FakeLogic final : public LogicService {
 public:
  // `clock` (wall time) judges deadlines and token expiry; it must outlive
  // the fake. The default is the system clock.
  FakeLogic();
  explicit FakeLogic(const Clock& clock);
  ~FakeLogic() override;
  FakeLogic(const FakeLogic&) = delete;
  FakeLogic& operator=(const FakeLogic&) = delete;

  // ---- the model ----
  // A user that can log in (`password`) and its id.
  uint64_t AddUser(const std::string& username, const std::string& password);
  // A live session: `token` resolves to `user_id` (created as "user<N>" if
  // unknown) with `session_key`.
  void AddToken(const std::string& token, uint64_t user_id, const std::string& session_key);
  // Sends beyond `n` more (all users together) answer rate_limited with
  // retry_after_ms 100; negative: unlimited (the default).
  void SetSendBudget(int n);
  // What Ready answers (OK by default).
  void SetReady(Status status);
  // Every accepted message, in order of acceptance.
  std::vector<rpc::ChatMessage> accepted() const;

  // ---- scripting ----
  // Replies to every later call with request type Req by `fn` instead of the
  // model (credentials and deadline are still checked first). Replaces an
  // earlier script of the same method.
  template <typename Req, typename Reply>
  void Script(std::function<Reply(const CallContext&, const Req&)> fn) {
    std::lock_guard lock(mu_);
    scripts_[Req::descriptor()] = std::make_shared<ScriptFn<Req, Reply>>(std::move(fn));
  }
  // Replies of `method` are kept until released, in call order.
  void Hold(Method method);
  // Sends up to `n` held replies of `method`, oldest first; returns how many.
  // With `stop_holding`, later replies go out at once again.
  size_t Release(Method method, size_t n = SIZE_MAX, bool stop_holding = false);
  size_t held(Method method) const;

  // ---- recording ----
  // Every call with request type Req, in call order.
  template <typename Req>
  std::vector<Recorded<Req>> Calls() const {
    std::vector<Recorded<Req>> out;
    std::lock_guard lock(mu_);
    for (const Call& c : calls_) {
      if (c.request != nullptr && c.request->GetDescriptor() == Req::descriptor()) {
        Recorded<Req> r{c.ctx, {}};
        r.req.CopyFrom(*c.request);
        out.push_back(std::move(r));
      }
    }
    return out;
  }
  template <typename Req>
  std::optional<Recorded<Req>> Last() const {
    auto all = Calls<Req>();
    if (all.empty()) return std::nullopt;
    return std::move(all.back());
  }
  // The contexts of every call of `method`, in call order.
  std::vector<CallContext> Contexts(Method method) const;
  size_t call_count(Method method) const;
  // Blocks until `method` was called `n` times (true) or 10 s passed (false).
  bool WaitForCalls(Method method, size_t n) const;

  // ---- LogicService ----
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

 private:
  struct ScriptBase {
    virtual ~ScriptBase() = default;
  };
  template <typename Req, typename Reply>
  struct ScriptFn final : ScriptBase {
    explicit ScriptFn(std::function<Reply(const CallContext&, const Req&)> f) : fn(std::move(f)) {}
    std::function<Reply(const CallContext&, const Req&)> fn;
  };
  struct Call {
    Method method;
    CallContext ctx;
    std::shared_ptr<const google::protobuf::Message> request;  // null for Ready
  };
  struct Session {
    uint64_t user_id = 0;
    std::string session_key;
  };
  struct User {
    uint64_t id = 0;
    std::string username;
    std::string password;
  };
  struct Group {
    std::string name;
    uint64_t owner = 0;
    std::vector<uint64_t> members;
  };

  // Records the call, checks deadline and credentials, runs the script or
  // `model` under mu_, and answers (or holds the answer).
  template <typename Req, typename Reply, typename Model>
  void Handle(Method method, const CallContext& ctx, const Req& req, bool needs_credentials,
              Callback<Reply> done, Model model);
  void Answer(Method method, std::function<void()> reply);

  // Helpers below require mu_.
  StatusOr<Session> ResolveLocked(const CallContext& ctx) const;
  bool IsMemberLocked(uint64_t group_id, uint64_t user) const;
  Status CanSeeLocked(const std::string& conv, uint64_t user) const;
  // NOT_FOUND without the group, PERMISSION_DENIED unless `user` is a member.
  Status CheckMemberLocked(uint64_t group_id, uint64_t user) const;
  void FillGroupLocked(uint64_t group_id, rpc::Group& out) const;
  // The conversations `user` takes part in, as in `hello` and the list.
  void AddConvStatesLocked(uint64_t user,
                           google::protobuf::RepeatedPtrField<rpc::ConvState>& out) const;
  rpc::SendReply SendOneLocked(const CallContext& ctx, const Session& caller,
                               const rpc::SendRequest& req);
  bool OnlineLocked(uint64_t user) const;

  std::unique_ptr<SystemClock> own_clock_;  // the default clock_, if any
  const Clock& clock_;

  mutable std::mutex mu_;
  mutable std::condition_variable calls_changed_;
  // State below is protected by mu_.
  std::vector<Call> calls_;
  std::map<const google::protobuf::Descriptor*, std::shared_ptr<ScriptBase>> scripts_;
  bool holding_[kMethodCount] = {};
  std::vector<std::function<void()>> held_[kMethodCount];
  std::map<uint64_t, User> users_;
  std::map<std::string, Session> tokens_;
  std::map<uint64_t, Group> groups_;
  std::map<uint64_t, std::string> group_adds_;  // user -> "nobody"; absent: "anyone"
  std::map<std::string, std::vector<rpc::ChatMessage>> history_;
  std::map<std::pair<uint64_t, std::string>, uint64_t> read_seqs_;   // (user, conv)
  std::map<std::pair<uint64_t, std::string>, rpc::SendReply> acks_;  // (sender, client id)
  std::vector<rpc::ChatMessage> accepted_;
  std::map<uint64_t, std::set<std::pair<std::string, uint64_t>>> presence_;  // user -> (node, conn)
  uint64_t next_user_id_ = 1;
  uint64_t next_group_id_ = 1;
  uint64_t next_msg_id_ = 0;
  uint64_t next_token_ = 0;
  int send_budget_ = -1;
  Status ready_;

  // Declared last: the thread stops (and drops what is queued) before the
  // state above goes.
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
};

}  // namespace parley::logic::testing

// Logic: the domain core behind LogicService, shared by embedded and cluster
// mode. Accounts and sessions, groups, conversations, history, and the send
// path (validate, rate-limit, authorise, de-duplicate, number, append to the
// durable log, ack).
//
// Threading: all state below lives on one strand of the executor given at
// construction; public methods may be called from any thread, and callbacks
// run on that strand (or a store thread for pure pass-through reads). Its
// dependencies must outlive it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "common/rate_limiter.h"
#include "common/snowflake.h"
#include "connect/connect_service.h"
#include "logic/idempotency_cache.h"
#include "logic/logic_service.h"
#include "logic/new_conversations.h"
#include "logic/password_hasher.h"
#include "logic/recent_messages.h"
#include "model/conversation.h"
#include "presence/presence.h"
#include "queue/message_log.h"
#include "store/store.h"

namespace parley::logic {

struct LogicDeps {
  const Options& options;
  const Clock& clock;
  store::Store& store;
  queue::MessageLog& log;
  presence::Presence& presence;
  connect::ConnectDirectory& connects;
  Metrics& metrics;
};

class Logic final : public LogicService {
 public:
  static StatusOr<std::unique_ptr<Logic>> Create(boost::asio::any_io_executor executor,
                                                 LogicDeps deps);
  ~Logic() override;

  // Loads the conversations' last seqs and the recent idempotency keys from
  // the store. Call once, after the log has been drained into the store and
  // before serving.
  void Start(Callback<Status> done);

  void Register(rpc::RegisterRequest req, Callback<rpc::RegisterReply> done) override;
  void Login(rpc::LoginRequest req, Callback<rpc::LoginReply> done) override;
  void Logout(rpc::LogoutRequest req, Callback<rpc::LogoutReply> done) override;
  void Auth(rpc::AuthRequest req, Callback<rpc::AuthReply> done) override;
  void GetUser(rpc::GetUserRequest req, Callback<rpc::GetUserReply> done) override;
  void CreateGroup(rpc::CreateGroupRequest req, Callback<rpc::GroupReply> done) override;
  void GetGroup(rpc::GetGroupRequest req, Callback<rpc::GroupReply> done) override;
  void AddMember(rpc::AddMemberRequest req, Callback<rpc::MembershipReply> done) override;
  void RemoveMember(rpc::RemoveMemberRequest req, Callback<rpc::MembershipReply> done) override;
  void ListConversations(rpc::ListConversationsRequest req,
                         Callback<rpc::ListConversationsReply> done) override;
  void Sync(rpc::SyncRequest req, Callback<rpc::SyncReply> done) override;
  void Send(rpc::SendRequest req, Callback<rpc::SendReply> done) override;
  void Read(rpc::ReadRequest req, Callback<rpc::ReadReply> done) override;
  void Connect(rpc::ConnectRequest req, Callback<rpc::ConnectReply> done) override;
  void Disconnect(rpc::DisconnectRequest req, Callback<rpc::DisconnectReply> done) override;
  void Ready(Callback<Status> done) override;

 private:
  template <typename T>
  using Task = boost::asio::awaitable<T>;

  struct GroupInfo {
    uint64_t owner = 0;
    std::string name;
    std::vector<uint64_t> members;  // in order of joining
    bool Has(uint64_t user) const;
  };
  // A send waiting its turn: sends are admitted strictly in arrival order so
  // that one connection's messages to a conversation keep their order.
  struct PendingSend {
    rpc::SendRequest req;
    Callback<rpc::SendReply> done;
    std::string key;  // idempotency key
    std::string conv;
    int64_t received_ns = 0;
  };

  Logic(boost::asio::any_io_executor executor, LogicDeps deps,
        std::unique_ptr<PasswordHasher> hasher);

  template <typename R>
  void Run(Task<R> op, Callback<R> done);

  Task<rpc::RegisterReply> DoRegister(rpc::RegisterRequest req);
  Task<rpc::LoginReply> DoLogin(rpc::LoginRequest req);
  Task<rpc::LogoutReply> DoLogout(rpc::LogoutRequest req);
  Task<rpc::AuthReply> DoAuth(rpc::AuthRequest req);
  Task<rpc::GetUserReply> DoGetUser(rpc::GetUserRequest req);
  Task<rpc::GroupReply> DoCreateGroup(rpc::CreateGroupRequest req);
  Task<rpc::GroupReply> DoGetGroup(rpc::GetGroupRequest req);
  Task<rpc::MembershipReply> DoAddMember(rpc::AddMemberRequest req);
  Task<rpc::MembershipReply> DoRemoveMember(rpc::RemoveMemberRequest req);
  Task<rpc::ListConversationsReply> DoListConversations(rpc::ListConversationsRequest req);
  Task<rpc::SyncReply> DoSync(rpc::SyncRequest req);
  Task<rpc::ReadReply> DoRead(rpc::ReadRequest req);
  Task<rpc::ConnectReply> DoConnect(rpc::ConnectRequest req);

  // Resolves a bearer token (session cache, then store); checks expiry.
  Task<StatusOr<store::SessionRecord>> Authenticate(const std::string& token);
  // The group from the cache, or the store (then cached).
  Task<StatusOr<const GroupInfo*>> LoadGroup(uint64_t group_id);
  Task<Status> CheckUserExists(uint64_t user_id);
  // Is `user` a participant of `conv`? PERMISSION_DENIED / NOT_FOUND otherwise.
  Task<Status> Authorize(uint64_t user, const model::ConvId& conv);
  Task<std::vector<rpc::ConvState>> Conversations(uint64_t user_id, Status* status);
  void CacheGroup(const rpc::Group& g);
  // Pushes a read receipt to every connection of `users` (except the origin).
  void PushRead(const rpc::ReadReceipt& receipt, const std::vector<uint64_t>& users);

  // --- the send path (on the strand) ---
  void AdmitSends();
  // kReady, kWait (a lookup was started; AdmitSends runs again when it ends)
  // or an error for the front send.
  enum class Admission { kReady, kWait, kRejected, kAnswered };
  Admission Admit(PendingSend& send);
  void FlushSends();
  void OnAppended(std::vector<PendingSend> batch, std::vector<rpc::ChatMessage> messages,
                  std::unordered_map<std::string, uint64_t> seqs_before, Status status);
  void Reply(PendingSend& send, const Status& status, int64_t retry_after_ms = 0);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  LogicDeps deps_;
  const Limits& limits_;
  std::unique_ptr<PasswordHasher> hasher_;

  // State below is accessed only on strand_.
  SnowflakeGenerator ids_;
  std::unordered_map<std::string, uint64_t> last_seq_;  // conv -> last assigned seq
  IdempotencyCache sent_;
  RecentMessages recent_;
  KeyedRateLimiter<uint64_t> send_limiter_;
  KeyedRateLimiter<std::string> auth_limiter_;
  std::unordered_map<uint64_t, GroupInfo> groups_;
  std::unordered_set<uint64_t> known_users_;
  std::unordered_map<std::string, store::SessionRecord> sessions_;  // by token hash
  NewConversations new_private_;

  std::deque<PendingSend> waiting_;                            // not yet admitted, in arrival order
  std::vector<PendingSend> ready_;                             // admitted, for the next append
  bool appending_ = false;                                     // one append in flight at a time
  std::unordered_set<uint64_t> user_lookups_, group_lookups_;  // in flight
  std::unordered_set<std::string> sent_lookups_;
  // Lookups that found nothing, valid until the waiting queue empties.
  std::unordered_set<uint64_t> missing_users_, missing_groups_;
  std::unordered_set<std::string> unsent_keys_;
};

}  // namespace parley::logic

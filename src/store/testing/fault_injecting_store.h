// FaultInjectingStore: a StoreWrapper whose calls can be made to fail, for
// tests of what a caller does when the store fails (leveldb's
// FaultInjectionTestEnv in spirit).
//
//   FaultInjectingStore store(&sqlite_store);
//   store.FailNext(StoreOp::kAppendMessages, 1, Status::Unavailable("disk full"));
//   store.AppendMessages(batch, done);  // done(UNAVAILABLE); the target never saw it
//
// A failed call never reaches the target (so it changes nothing there), and
// its `done` runs once with the injected status, on the wrapper's own
// callback thread (never on the caller's, as the Store contract promises).
// Calls that are not failed are forwarded as they are.
//
// Thread-safe. Does not own the target, which must outlive the wrapper. The
// destructor waits for the injected failures' callbacks to run.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "store/testing/store_wrapper.h"
#include "support/callback_thread.h"

namespace parley::store {

// One value per method of Store.
enum class StoreOp {
  kCreateUser,
  kFindUserByName,
  kFindUserById,
  kCreateSession,
  kFindSession,
  kDeleteSession,
  kSetGroupAdds,
  kPurgeExpiredSessions,
  kCreateGroup,
  kGetGroup,
  kAddGroupMember,
  kRemoveGroupMember,
  kListConversations,
  kSetReadSeq,
  kLoadLastSeqs,
  kAppendMessages,
  kGetMessages,
  kFindSent,
  kLoadRecentSent,
  kPing,
};
inline constexpr int kStoreOpCount = static_cast<int>(StoreOp::kPing) + 1;

class FaultInjectingStore final : public StoreWrapper {
 public:
  explicit FaultInjectingStore(Store* target) : StoreWrapper(target) {}

  // The next `n` calls of `op` fail with `status` (not OK) without reaching
  // the target. Replaces what was armed for `op` before; n = 0 disarms it.
  void FailNext(StoreOp op, int n, Status status = Status::Unavailable("injected store failure"));
  // Calls of `op` that were forwarded to the target so far.
  uint64_t ReachedTarget(StoreOp op) const;

  void CreateUser(std::string username, std::string password_hash, int64_t now,
                  Callback<StatusOr<UserRecord>> done) override;
  void FindUserByName(std::string username, Callback<StatusOr<UserRecord>> done) override;
  void FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) override;

  void CreateSession(SessionRecord session, Callback<Status> done) override;
  void FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) override;
  void DeleteSession(std::string token_hash, Callback<Status> done) override;
  void SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) override;
  void PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                            Callback<StatusOr<uint64_t>> done) override;

  void CreateGroup(std::string name, uint64_t owner, std::vector<uint64_t> members, int64_t now,
                   MembershipRules rules, Callback<StatusOr<rpc::Group>> done) override;
  void GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) override;
  void AddGroupMember(uint64_t group_id, uint64_t user_id, int64_t now, MembershipRules rules,
                      Callback<Status> done) override;
  void RemoveGroupMember(uint64_t group_id, uint64_t user_id,
                         Callback<StatusOr<rpc::Group>> done) override;

  void ListConversations(uint64_t user_id,
                         Callback<StatusOr<std::vector<rpc::ConvState>>> done) override;
  void SetReadSeq(uint64_t user_id, std::string conv, uint64_t seq,
                  Callback<StatusOr<uint64_t>> done) override;
  void LoadLastSeqs(
      Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) override;

  void AppendMessages(std::vector<rpc::ChatMessage> batch, Callback<Status> done) override;
  void GetMessages(std::string conv, uint64_t after_seq, bool has_after, uint64_t before_seq,
                   uint32_t limit, Callback<StatusOr<MessagePage>> done) override;
  void FindSent(uint64_t from, std::string client_id, Callback<StatusOr<SentKey>> done) override;
  void LoadRecentSent(int64_t since_ms, uint32_t limit,
                      Callback<StatusOr<std::vector<SentKey>>> done) override;

  void Ping(Callback<Status> done) override;

 private:
  struct Armed {
    int remaining = 0;
    Status status;
  };

  // True when this call of `op` is to fail: `done` then gets the injected
  // status on the callback thread. Otherwise counts the call as forwarded.
  template <typename Result>
  bool Intercept(StoreOp op, Callback<Result>& done);

  mutable std::mutex mu_;
  // State below is protected by mu_.
  std::array<Armed, kStoreOpCount> armed_;
  std::array<uint64_t, kStoreOpCount> reached_{};

  parley::testing::CallbackThread callbacks_;  // last: drained before the state above goes
};

}  // namespace parley::store

// StoreWrapper: a Store that forwards every call to another Store, in the
// spirit of leveldb's EnvWrapper. Derive from it and override only the calls
// a test double changes (see FaultInjectingStore).
//
// Does not own the target, which must outlive the wrapper. Thread-safe as
// far as the target is; callbacks are the target's, on the target's threads.
#pragma once

#include "store/store.h"

namespace parley::store {

class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store* target) : target_(target) {}

  Store* target() const { return target_; }

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
  Store* const target_;
};

}  // namespace parley::store

#include "store/testing/fault_injecting_store.h"

#include <cassert>
#include <utility>

namespace parley::store {

void FaultInjectingStore::FailNext(StoreOp op, int n, Status status) {
  assert(!status.ok());
  std::lock_guard lock(mu_);
  armed_[static_cast<int>(op)] = Armed{n, std::move(status)};
}

uint64_t FaultInjectingStore::ReachedTarget(StoreOp op) const {
  std::lock_guard lock(mu_);
  return reached_[static_cast<int>(op)];
}

template <typename Result>
bool FaultInjectingStore::Intercept(StoreOp op, Callback<Result>& done) {
  Status injected;
  {
    std::lock_guard lock(mu_);
    Armed& armed = armed_[static_cast<int>(op)];
    if (armed.remaining <= 0) {
      ++reached_[static_cast<int>(op)];
      return false;
    }
    --armed.remaining;
    injected = armed.status;
  }
  callbacks_.Post(
      [done = std::move(done), injected = std::move(injected)] { done(Result(injected)); });
  return true;
}

void FaultInjectingStore::CreateUser(std::string username, std::string password_hash, int64_t now,
                                     Callback<StatusOr<UserRecord>> done) {
  if (Intercept(StoreOp::kCreateUser, done)) return;
  StoreWrapper::CreateUser(std::move(username), std::move(password_hash), now, std::move(done));
}

void FaultInjectingStore::FindUserByName(std::string username,
                                         Callback<StatusOr<UserRecord>> done) {
  if (Intercept(StoreOp::kFindUserByName, done)) return;
  StoreWrapper::FindUserByName(std::move(username), std::move(done));
}

void FaultInjectingStore::FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) {
  if (Intercept(StoreOp::kFindUserById, done)) return;
  StoreWrapper::FindUserById(user_id, std::move(done));
}

void FaultInjectingStore::CreateSession(SessionRecord session, Callback<Status> done) {
  if (Intercept(StoreOp::kCreateSession, done)) return;
  StoreWrapper::CreateSession(std::move(session), std::move(done));
}

void FaultInjectingStore::FindSession(std::string token_hash,
                                      Callback<StatusOr<SessionRecord>> done) {
  if (Intercept(StoreOp::kFindSession, done)) return;
  StoreWrapper::FindSession(std::move(token_hash), std::move(done));
}

void FaultInjectingStore::PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                                               Callback<StatusOr<uint64_t>> done) {
  if (Intercept(StoreOp::kPurgeExpiredSessions, done)) return;
  StoreWrapper::PurgeExpiredSessions(now, max_rows, std::move(done));
}

void FaultInjectingStore::DeleteSession(std::string token_hash, Callback<Status> done) {
  if (Intercept(StoreOp::kDeleteSession, done)) return;
  StoreWrapper::DeleteSession(std::move(token_hash), std::move(done));
}

void FaultInjectingStore::SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) {
  if (Intercept(StoreOp::kSetGroupAdds, done)) return;
  StoreWrapper::SetGroupAdds(user_id, who, std::move(done));
}

void FaultInjectingStore::CreateGroup(std::string name, uint64_t owner,
                                      std::vector<uint64_t> members, int64_t now,
                                      MembershipRules rules, Callback<StatusOr<rpc::Group>> done) {
  if (Intercept(StoreOp::kCreateGroup, done)) return;
  StoreWrapper::CreateGroup(std::move(name), owner, std::move(members), now, rules,
                            std::move(done));
}

void FaultInjectingStore::GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) {
  if (Intercept(StoreOp::kGetGroup, done)) return;
  StoreWrapper::GetGroup(group_id, std::move(done));
}

void FaultInjectingStore::AddGroupMember(uint64_t group_id, uint64_t user_id, int64_t now,
                                         MembershipRules rules, Callback<Status> done) {
  if (Intercept(StoreOp::kAddGroupMember, done)) return;
  StoreWrapper::AddGroupMember(group_id, user_id, now, rules, std::move(done));
}

void FaultInjectingStore::RemoveGroupMember(uint64_t group_id, uint64_t user_id,
                                            Callback<StatusOr<rpc::Group>> done) {
  if (Intercept(StoreOp::kRemoveGroupMember, done)) return;
  StoreWrapper::RemoveGroupMember(group_id, user_id, std::move(done));
}

void FaultInjectingStore::ListConversations(uint64_t user_id,
                                            Callback<StatusOr<std::vector<rpc::ConvState>>> done) {
  if (Intercept(StoreOp::kListConversations, done)) return;
  StoreWrapper::ListConversations(user_id, std::move(done));
}

void FaultInjectingStore::SetReadSeq(uint64_t user_id, std::string conv, uint64_t seq,
                                     Callback<StatusOr<uint64_t>> done) {
  if (Intercept(StoreOp::kSetReadSeq, done)) return;
  StoreWrapper::SetReadSeq(user_id, std::move(conv), seq, std::move(done));
}

void FaultInjectingStore::LoadLastSeqs(
    Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) {
  if (Intercept(StoreOp::kLoadLastSeqs, done)) return;
  StoreWrapper::LoadLastSeqs(std::move(done));
}

void FaultInjectingStore::AppendMessages(std::vector<rpc::ChatMessage> batch,
                                         Callback<Status> done) {
  if (Intercept(StoreOp::kAppendMessages, done)) return;
  StoreWrapper::AppendMessages(std::move(batch), std::move(done));
}

void FaultInjectingStore::GetMessages(std::string conv, uint64_t after_seq, bool has_after,
                                      uint64_t before_seq, uint32_t limit,
                                      Callback<StatusOr<MessagePage>> done) {
  if (Intercept(StoreOp::kGetMessages, done)) return;
  StoreWrapper::GetMessages(std::move(conv), after_seq, has_after, before_seq, limit,
                            std::move(done));
}

void FaultInjectingStore::FindSent(uint64_t from, std::string client_id,
                                   Callback<StatusOr<SentKey>> done) {
  if (Intercept(StoreOp::kFindSent, done)) return;
  StoreWrapper::FindSent(from, std::move(client_id), std::move(done));
}

void FaultInjectingStore::LoadRecentSent(int64_t since_ms, uint32_t limit,
                                         Callback<StatusOr<std::vector<SentKey>>> done) {
  if (Intercept(StoreOp::kLoadRecentSent, done)) return;
  StoreWrapper::LoadRecentSent(since_ms, limit, std::move(done));
}

void FaultInjectingStore::Ping(Callback<Status> done) {
  if (Intercept(StoreOp::kPing, done)) return;
  StoreWrapper::Ping(std::move(done));
}

}  // namespace parley::store

#include "store/testing/store_wrapper.h"

#include <utility>

namespace parley::store {

void StoreWrapper::CreateUser(std::string username, std::string password_hash, int64_t now,
                              Callback<StatusOr<UserRecord>> done) {
  target_->CreateUser(std::move(username), std::move(password_hash), now, std::move(done));
}

void StoreWrapper::FindUserByName(std::string username, Callback<StatusOr<UserRecord>> done) {
  target_->FindUserByName(std::move(username), std::move(done));
}

void StoreWrapper::FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) {
  target_->FindUserById(user_id, std::move(done));
}

void StoreWrapper::CreateSession(SessionRecord session, Callback<Status> done) {
  target_->CreateSession(std::move(session), std::move(done));
}

void StoreWrapper::FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) {
  target_->FindSession(std::move(token_hash), std::move(done));
}

void StoreWrapper::PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                                        Callback<StatusOr<uint64_t>> done) {
  target_->PurgeExpiredSessions(now, max_rows, std::move(done));
}

void StoreWrapper::DeleteSession(std::string token_hash, Callback<Status> done) {
  target_->DeleteSession(std::move(token_hash), std::move(done));
}

void StoreWrapper::SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) {
  target_->SetGroupAdds(user_id, who, std::move(done));
}

void StoreWrapper::CreateGroup(std::string name, uint64_t owner, std::vector<uint64_t> members,
                               int64_t now, MembershipRules rules,
                               Callback<StatusOr<rpc::Group>> done) {
  target_->CreateGroup(std::move(name), owner, std::move(members), now, rules, std::move(done));
}

void StoreWrapper::GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) {
  target_->GetGroup(group_id, std::move(done));
}

void StoreWrapper::AddGroupMember(uint64_t group_id, uint64_t user_id, int64_t now,
                                  MembershipRules rules, Callback<Status> done) {
  target_->AddGroupMember(group_id, user_id, now, rules, std::move(done));
}

void StoreWrapper::RemoveGroupMember(uint64_t group_id, uint64_t user_id,
                                     Callback<StatusOr<rpc::Group>> done) {
  target_->RemoveGroupMember(group_id, user_id, std::move(done));
}

void StoreWrapper::ListConversations(uint64_t user_id,
                                     Callback<StatusOr<std::vector<rpc::ConvState>>> done) {
  target_->ListConversations(user_id, std::move(done));
}

void StoreWrapper::SetReadSeq(uint64_t user_id, std::string conv, uint64_t seq,
                              Callback<StatusOr<uint64_t>> done) {
  target_->SetReadSeq(user_id, std::move(conv), seq, std::move(done));
}

void StoreWrapper::LoadLastSeqs(
    Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) {
  target_->LoadLastSeqs(std::move(done));
}

void StoreWrapper::AppendMessages(std::vector<rpc::ChatMessage> batch, Callback<Status> done) {
  target_->AppendMessages(std::move(batch), std::move(done));
}

void StoreWrapper::GetMessages(std::string conv, uint64_t after_seq, bool has_after,
                               uint64_t before_seq, uint32_t limit,
                               Callback<StatusOr<MessagePage>> done) {
  target_->GetMessages(std::move(conv), after_seq, has_after, before_seq, limit, std::move(done));
}

void StoreWrapper::FindSent(uint64_t from, std::string client_id,
                            Callback<StatusOr<SentKey>> done) {
  target_->FindSent(from, std::move(client_id), std::move(done));
}

void StoreWrapper::LoadRecentSent(int64_t since_ms, uint32_t limit,
                                  Callback<StatusOr<std::vector<SentKey>>> done) {
  target_->LoadRecentSent(since_ms, limit, std::move(done));
}

void StoreWrapper::Ping(Callback<Status> done) { target_->Ping(std::move(done)); }

}  // namespace parley::store

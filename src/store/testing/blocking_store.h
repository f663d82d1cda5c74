// BlockingStore: Store calls that wait for their answer, for tests. Each call
// blocks until its callback ran (test_util.h's Wait: at most 10 s).
//
// Does not own the store it calls; Bind() points it at another (fixtures
// that reopen their store rebind). Thread-safe as far as the store is.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/testing/chat_messages.h"
#include "support/test_util.h"

namespace parley::store {

class BlockingStore {
 public:
  BlockingStore() = default;
  explicit BlockingStore(Store* store) : called_(store) {}

  void Bind(Store* store) { called_ = store; }

  // Registers `name` with password hash "hash-<name>".
  StatusOr<UserRecord> CreateUser(const std::string& name, int64_t now = 1000) {
    return Call<StatusOr<UserRecord>>(
        [&](auto cb) { called_->CreateUser(name, fmt::format("hash-{}", name), now, cb); });
  }
  StatusOr<UserRecord> FindUserByName(const std::string& name) {
    return Call<StatusOr<UserRecord>>([&](auto cb) { called_->FindUserByName(name, cb); });
  }
  StatusOr<UserRecord> FindUserById(uint64_t id) {
    return Call<StatusOr<UserRecord>>([&](auto cb) { called_->FindUserById(id, cb); });
  }
  Status CreateSession(SessionRecord session) {
    return Call<Status>([&](auto cb) { called_->CreateSession(std::move(session), cb); });
  }
  StatusOr<SessionRecord> FindSession(const std::string& token_hash) {
    return Call<StatusOr<SessionRecord>>([&](auto cb) { called_->FindSession(token_hash, cb); });
  }
  Status DeleteSession(const std::string& token_hash) {
    return Call<Status>([&](auto cb) { called_->DeleteSession(token_hash, cb); });
  }

  StatusOr<rpc::Group> CreateGroup(const std::string& name, uint64_t owner,
                                   std::vector<uint64_t> members, int64_t now,
                                   MembershipRules rules = {}) {
    return Call<StatusOr<rpc::Group>>(
        [&](auto cb) { called_->CreateGroup(name, owner, std::move(members), now, rules, cb); });
  }
  StatusOr<rpc::Group> GetGroup(uint64_t id) {
    return Call<StatusOr<rpc::Group>>([&](auto cb) { called_->GetGroup(id, cb); });
  }
  Status AddMember(uint64_t group, uint64_t user, int64_t now, MembershipRules rules = {}) {
    return Call<Status>([&](auto cb) { called_->AddGroupMember(group, user, now, rules, cb); });
  }
  Status SetGroupAdds(uint64_t user, GroupAdds who) {
    return Call<Status>([&](auto cb) { called_->SetGroupAdds(user, who, cb); });
  }
  StatusOr<rpc::Group> RemoveMember(uint64_t group, uint64_t user) {
    return Call<StatusOr<rpc::Group>>(
        [&](auto cb) { called_->RemoveGroupMember(group, user, cb); });
  }
  static std::vector<uint64_t> Members(const rpc::Group& g) {
    return {g.members().begin(), g.members().end()};
  }

  StatusOr<uint64_t> SetReadSeq(uint64_t user, const std::string& conv, uint64_t seq) {
    return Call<StatusOr<uint64_t>>([&](auto cb) { called_->SetReadSeq(user, conv, seq, cb); });
  }
  // The user's conversations (empty, and a test failure, on error).
  std::vector<rpc::ConvState> Convs(uint64_t user) {
    auto r = Call<StatusOr<std::vector<rpc::ConvState>>>(
        [&](auto cb) { called_->ListConversations(user, cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : std::vector<rpc::ConvState>{};
  }
  std::vector<std::string> ConvIds(uint64_t user) {
    std::vector<std::string> ids;
    for (const auto& c : Convs(user)) ids.push_back(c.conv());
    return ids;
  }
  StatusOr<std::vector<std::pair<std::string, uint64_t>>> LoadLastSeqs() {
    return Call<StatusOr<std::vector<std::pair<std::string, uint64_t>>>>(
        [&](auto cb) { called_->LoadLastSeqs(cb); });
  }

  Status Append(std::vector<rpc::ChatMessage> batch) {
    return Call<Status>([&](auto cb) { called_->AppendMessages(std::move(batch), cb); });
  }
  // A page of GetMessages (empty, and a test failure, on error).
  MessagePage Page(const std::string& conv, uint64_t after, bool has_after, uint64_t before,
                   uint32_t limit) {
    auto r = Call<StatusOr<MessagePage>>(
        [&](auto cb) { called_->GetMessages(conv, after, has_after, before, limit, cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : MessagePage{};
  }
  // Every message of `conv` (up to 1000), ascending.
  std::vector<rpc::ChatMessage> Messages(const std::string& conv) {
    return Page(conv, 0, true, 0, 1000).messages;
  }
  std::vector<uint64_t> Seqs(const std::string& conv) { return SeqsOf(Messages(conv)); }
  StatusOr<SentKey> FindSent(uint64_t from, const std::string& client_id) {
    return Call<StatusOr<SentKey>>([&](auto cb) { called_->FindSent(from, client_id, cb); });
  }
  StatusOr<std::vector<SentKey>> LoadRecentSent(int64_t since_ms, uint32_t limit) {
    return Call<StatusOr<std::vector<SentKey>>>(
        [&](auto cb) { called_->LoadRecentSent(since_ms, limit, cb); });
  }
  Status Ping() {
    return Call<Status>([&](auto cb) { called_->Ping(cb); });
  }

 private:
  template <typename T, typename Start>
  static T Call(Start start) {
    return parley::testing::Wait<T>(std::move(start));
  }

  Store* called_ = nullptr;
};

}  // namespace parley::store

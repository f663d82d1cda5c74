// FakeLogic is the contract the api and connect tests lean on: what it
// records, how it refuses, and how a test scripts and delays its replies.
#include "logic/testing/fake_logic.h"

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::logic::testing {
namespace {

using parley::testing::Wait;

CallContext Token(const std::string& token) {
  CallContext ctx;
  ctx.token = token;
  ctx.request_id = "rid-" + token;
  return ctx;
}

rpc::SendBatch Batch(std::initializer_list<std::pair<const char*, uint64_t>> sends) {
  rpc::SendBatch batch;
  for (const auto& [id, to] : sends) {
    rpc::SendRequest* r = batch.add_requests();
    r->set_client_id(id);
    r->set_to_user(to);
    r->set_body("hi");
  }
  return batch;
}

TEST(FakeLogicTest, RecordsEveryCallWithItsContext) {
  FakeLogic logic;
  logic.AddToken("t1", 1, "k1");
  CallContext ctx = Token("t1");
  ctx.client_ip = "10.0.0.1";
  auto reply = Wait<rpc::AuthReply>([&](auto cb) { logic.Auth(ctx, {}, cb); });
  EXPECT_EQ(reply.user_id(), 1u);
  EXPECT_EQ(reply.session_key(), "k1");
  auto last = logic.Last<rpc::AuthRequest>();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->ctx.request_id, "rid-t1");
  EXPECT_EQ(last->ctx.client_ip, "10.0.0.1");
  EXPECT_EQ(logic.call_count(Method::kAuth), 1u);
  EXPECT_EQ(logic.Contexts(Method::kAuth).size(), 1u);
  EXPECT_EQ(logic.call_count(Method::kSend), 0u);
}

TEST(FakeLogicTest, RefusesMissingBadOrRevokedCredentialsAndLateCalls) {
  ManualClock clock;
  FakeLogic logic(clock);
  logic.AddToken("t1", 1, "k1");
  auto get = [&](CallContext ctx) {
    return Wait<rpc::GetUserReply>([&](auto cb) { logic.GetUser(ctx, {}, cb); });
  };
  EXPECT_EQ(get({}).error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(get(Token("nope")).error().code(), rpc::UNAUTHENTICATED);
  CallContext socket;
  socket.user_id = 1;
  socket.session_key = "k1";
  EXPECT_EQ(get(socket).user().user_id(), 1u);
  socket.deadline_ms = clock.NowMs() - 1;
  EXPECT_EQ(get(socket).error().code(), rpc::UNAVAILABLE);
  socket.deadline_ms = 0;

  auto out = Wait<rpc::LogoutReply>([&](auto cb) { logic.Logout(Token("t1"), {}, cb); });
  EXPECT_EQ(out.error().code(), rpc::OK);
  EXPECT_EQ(get(socket).error().code(), rpc::UNAUTHENTICATED) << "a logout revokes the socket too";
}

TEST(FakeLogicTest, BatchedSendsGetSeqsInOrderAndResendsTheFirstAck) {
  FakeLogic logic;
  logic.AddToken("t1", 1, "k1");
  logic.AddToken("t2", 2, "k2");
  CallContext ctx = Token("t1");
  ctx.origin_node = "n1";
  ctx.origin_conn = 7;
  auto reply = Wait<rpc::SendBatchReply>([&](auto cb) {
    logic.Send(ctx, Batch({{"a", 2}, {"b", 2}, {"c", 99}}), cb);
  });
  ASSERT_EQ(reply.replies_size(), 3);
  EXPECT_EQ(reply.replies(0).seq(), 1u);
  EXPECT_EQ(reply.replies(1).seq(), 2u);
  EXPECT_EQ(reply.replies(2).error().code(), rpc::NOT_FOUND);
  auto again = Wait<rpc::SendBatchReply>([&](auto cb) { logic.Send(ctx, Batch({{"a", 2}}), cb); });
  EXPECT_EQ(again.replies(0).msg_id(), reply.replies(0).msg_id());
  ASSERT_EQ(logic.accepted().size(), 2u);
  EXPECT_EQ(logic.accepted()[0].origin_node(), "n1");
  EXPECT_EQ(logic.accepted()[0].origin_conn(), 7u);

  auto refused = Wait<rpc::SendBatchReply>([&](auto cb) {
    logic.Send({}, Batch({{"x", 2}, {"y", 2}}), cb);
  });
  ASSERT_EQ(refused.replies_size(), 2) << "every message of a refused batch gets the error";
  EXPECT_EQ(refused.replies(1).error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(refused.replies(1).client_id(), "y");
}

TEST(FakeLogicTest, ScriptsReplaceTheModel) {
  FakeLogic logic;
  logic.AddToken("t1", 1, "k1");
  logic.Script<rpc::GetGroupRequest, rpc::GroupReply>(
      [](const CallContext& ctx, const rpc::GetGroupRequest& req) {
        rpc::GroupReply reply;
        reply.mutable_group()->set_group_id(req.group_id());
        reply.mutable_group()->set_name(ctx.request_id);
        return reply;
      });
  rpc::GetGroupRequest req;
  req.set_group_id(5);
  auto reply = Wait<rpc::GroupReply>([&](auto cb) { logic.GetGroup(Token("t1"), req, cb); });
  EXPECT_EQ(reply.group().group_id(), 5u);
  EXPECT_EQ(reply.group().name(), "rid-t1");
  // Credentials are still checked before the script.
  reply = Wait<rpc::GroupReply>([&](auto cb) { logic.GetGroup(Token("bad"), req, cb); });
  EXPECT_EQ(reply.error().code(), rpc::UNAUTHENTICATED);
}

TEST(FakeLogicTest, HeldRepliesWaitForRelease) {
  FakeLogic logic;
  logic.AddToken("t1", 1, "k1");
  logic.Hold(Method::kSend);
  std::promise<rpc::SendBatchReply> first, second;
  logic.Send(Token("t1"), Batch({{"a", 1}}), [&](rpc::SendBatchReply r) { first.set_value(r); });
  logic.Send(Token("t1"), Batch({{"b", 1}}), [&](rpc::SendBatchReply r) { second.set_value(r); });
  EXPECT_EQ(logic.held(Method::kSend), 2u);
  auto f1 = first.get_future(), f2 = second.get_future();
  EXPECT_EQ(f1.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(logic.Release(Method::kSend, 1), 1u);
  EXPECT_EQ(f1.get().replies(0).seq(), 1u);
  EXPECT_EQ(f2.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(logic.Release(Method::kSend, SIZE_MAX, /*stop_holding=*/true), 1u);
  EXPECT_EQ(f2.get().replies(0).seq(), 2u);
  EXPECT_EQ(logic.held(Method::kSend), 0u);
}

TEST(FakeLogicTest, AccountsGroupsAndHistory) {
  FakeLogic logic;
  rpc::RegisterRequest reg;
  reg.set_username("Alice");
  reg.set_password("secret12");
  auto user = Wait<rpc::RegisterReply>([&](auto cb) { logic.Register({}, reg, cb); });
  ASSERT_EQ(user.error().code(), rpc::OK);
  reg.set_username("alice");
  EXPECT_EQ(Wait<rpc::RegisterReply>([&](auto cb) { logic.Register({}, reg, cb); }).error().code(),
            rpc::ALREADY_EXISTS);
  rpc::LoginRequest login;
  login.set_username("alice");
  login.set_password("secret12");
  auto session = Wait<rpc::LoginReply>([&](auto cb) { logic.Login({}, login, cb); });
  ASSERT_FALSE(session.token().empty());
  EXPECT_EQ(session.user_id(), user.user().user_id());

  logic.AddToken("tb", 50, "kb");
  rpc::CreateGroupRequest create;
  create.set_name("team");
  create.add_members(50);
  auto group = Wait<rpc::GroupReply>(
      [&](auto cb) { logic.CreateGroup(Token(session.token()), create, cb); });
  EXPECT_EQ(group.group().members_size(), 2);
  rpc::SendBatch batch;
  for (int i = 0; i < 5; ++i) {
    rpc::SendRequest* r = batch.add_requests();
    r->set_client_id("g" + std::to_string(i));
    r->set_to_group(group.group().group_id());
    r->set_body("b");
  }
  Wait<rpc::SendBatchReply>([&](auto cb) { logic.Send(Token("tb"), batch, cb); });
  rpc::SyncRequest sync;
  sync.set_conv("g:" + std::to_string(group.group().group_id()));
  sync.set_before_seq(5);
  sync.set_limit(2);
  auto page = Wait<rpc::SyncReply>([&](auto cb) { logic.Sync(Token("tb"), sync, cb); });
  ASSERT_EQ(page.messages_size(), 2);
  EXPECT_EQ(page.messages(0).seq(), 3u);
  EXPECT_EQ(page.messages(1).seq(), 4u);
  EXPECT_TRUE(page.has_more());
  auto convs = Wait<rpc::ListConversationsReply>(
      [&](auto cb) { logic.ListConversations(Token(session.token()), {}, cb); });
  ASSERT_EQ(convs.convs_size(), 1);
  EXPECT_EQ(convs.convs(0).last_seq(), 5u);
}

}  // namespace
}  // namespace parley::logic::testing

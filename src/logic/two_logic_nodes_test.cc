// Two Logic facades over the same seams: what the cluster's logic nodes need
// from the state/ seams, shown in one process. Everything they must agree on
// (seqs, idempotency records, sessions, membership, the recent window) goes
// through the seams, so which node a call lands on makes no difference.
#include <future>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "logic/logic_test_world.h"
#include "model/conversation.h"

namespace parley::logic {
namespace {

using testing::LogicWorld;
using testing::Wait;

class TwoLogicNodesTest : public ::testing::Test {
 protected:
  TwoLogicNodesTest() {
    w.AddNode();
    a = w.Register("alice", 0);
    b = w.Register("bob", 1);
    c = w.Register("carol", 0);
  }
  LogicWorld w;
  uint64_t a = 0, b = 0, c = 0;
};

TEST_F(TwoLogicNodesTest, ConcurrentSendsToOneConversationGetUniqueGapFreeSeqsInEachSendersOrder) {
  // Two sockets per sender, each on its own node, each sending its next batch
  // once the previous one is answered (as connect does), all at once.
  constexpr int kBatches = 40, kPerBatch = 5;
  auto g = w.CreateGroup(w.Login("alice"), {b, c});
  ASSERT_EQ(g.error().code(), rpc::OK);
  const uint64_t gid = g.group().group_id();
  struct Stream {
    CallContext ctx;
    int node;
    std::string name;
  };
  std::vector<Stream> streams = {{w.Socket(w.Login("alice"), 1, 0), 0, "a0"},
                                 {w.Socket(w.Login("alice"), 2, 1), 1, "a1"},
                                 {w.Socket(w.Login("bob"), 3, 1), 1, "b1"},
                                 {w.Socket(w.Login("carol"), 4, 0), 0, "c0"}};
  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> seqs_of;  // stream -> seqs in send order
  std::vector<std::thread> threads;
  for (const Stream& s : streams) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < kBatches; ++i) {
        std::vector<rpc::SendRequest> batch;
        for (int k = 0; k < kPerBatch; ++k) {
          batch.push_back(LogicWorld::Message(s.name + "-" + std::to_string(i * kPerBatch + k), 0,
                                              "hello", gid));
        }
        auto r = w.SendBatch(s.ctx, batch, s.node);
        std::lock_guard lock(mu);
        for (const auto& reply : r.replies()) {
          ASSERT_EQ(reply.error().code(), rpc::OK) << reply.error().message();
          seqs_of[s.name].push_back(reply.seq());
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  const size_t total = streams.size() * kBatches * kPerBatch;
  std::vector<int> times(total + 1, 0);
  for (auto& [name, seqs] : seqs_of) {
    ASSERT_EQ(seqs.size(), static_cast<size_t>(kBatches * kPerBatch)) << name;
    for (size_t i = 0; i < seqs.size(); ++i) {
      ASSERT_LE(seqs[i], total);
      ++times[seqs[i]];
      if (i > 0) {
        EXPECT_LT(seqs[i - 1], seqs[i]) << name << " out of order";
      }
    }
  }
  for (size_t seq = 1; seq <= total; ++seq) EXPECT_EQ(times[seq], 1) << "seq " << seq;
  // The log holds them once each, in seq order.
  auto logged = w.Logged(total);
  ASSERT_EQ(logged.size(), total);
  for (size_t i = 0; i < logged.size(); ++i) EXPECT_EQ(logged[i].seq(), i + 1);
}

TEST_F(TwoLogicNodesTest, ALogoutThroughOneIsRefusedAtOnceByTheOther) {
  CallContext login = w.Login("alice", 0);
  CallContext socket = w.Socket(login, 9, 1);  // a socket whose calls land on node 1
  ASSERT_EQ(w.Send(socket, "before", b, "hi", 0, 1).error().code(), rpc::OK);
  auto out = Wait<rpc::LogoutReply>([&](auto cb) { w.node(0).Logout(login, {}, cb); });
  ASSERT_EQ(out.error().code(), rpc::OK);
  EXPECT_EQ(w.Send(socket, "after", b, "hi", 0, 1).error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(Wait<rpc::AuthReply>([&](auto cb) { w.node(1).Auth(login, {}, cb); }).error().code(),
            rpc::UNAUTHENTICATED);
}

TEST_F(TwoLogicNodesTest, AMemberRemovedThroughOneCannotSendOrSyncThroughTheOther) {
  CallContext as_a = w.Login("alice"), as_b = w.Login("bob");
  uint64_t gid = w.CreateGroup(as_a, {b}, 0).group().group_id();
  std::string conv = "g:" + std::to_string(gid);
  ASSERT_EQ(w.Send(as_b, "g1", 0, "hi", gid, 1).error().code(), rpc::OK);  // node 1 knows the group
  ASSERT_EQ(w.Sync(as_b, conv, 0, 1).messages_size(), 1);
  rpc::RemoveMemberRequest remove;
  remove.set_group_id(gid);
  remove.set_user_id(b);
  ASSERT_EQ(Wait<rpc::MembershipReply>([&](auto cb) { w.node(0).RemoveMember(as_a, remove, cb); })
                .error()
                .code(),
            rpc::OK);
  EXPECT_EQ(w.Send(as_b, "g2", 0, "hi", gid, 1).error().code(), rpc::PERMISSION_DENIED);
  EXPECT_EQ(w.Sync(as_b, conv, 0, 1).error().code(), rpc::PERMISSION_DENIED);
}

TEST_F(TwoLogicNodesTest, AResendOfAKnownIdThroughTheOtherGetsTheFirstAck) {
  CallContext as_a = w.Login("alice");
  auto first = w.Send(as_a, "once", b, "hello", 0, 0);
  ASSERT_EQ(first.error().code(), rpc::OK);
  auto again = w.Send(as_a, "once", b, "hello", 0, 1);
  EXPECT_EQ(again.error().code(), rpc::OK);
  EXPECT_EQ(again.msg_id(), first.msg_id());
  EXPECT_EQ(again.seq(), first.seq());
  EXPECT_EQ(again.ts(), first.ts());
  // And one in flight on node 0 while the resend reaches node 1.
  w.log().HoldAppends();
  auto p = std::make_shared<std::promise<rpc::SendBatchReply>>();
  rpc::SendBatch batch;
  *batch.add_requests() = LogicWorld::Message("racing", b, "x");
  w.node(0).Send(as_a, batch, [p](rpc::SendBatchReply r) { p->set_value(std::move(r)); });
  auto p2 = std::make_shared<std::promise<rpc::SendBatchReply>>();
  w.node(1).Send(as_a, batch, [p2](rpc::SendBatchReply r) { p2->set_value(std::move(r)); });
  w.log().ReleaseAppends();
  auto r1 = p->get_future().get().replies(0), r2 = p2->get_future().get().replies(0);
  EXPECT_EQ(r1.error().code(), rpc::OK);
  EXPECT_EQ(r2.msg_id(), r1.msg_id());
  EXPECT_EQ(w.Logged(2).size(), 2u);
}

TEST_F(TwoLogicNodesTest, WhatOneAcceptedTheOtherServesBeforeTheStoreHasIt) {
  // No persist consumer runs in this world: the store never gets the
  // messages, so node 1 can only serve them from the shared recent window.
  CallContext as_a = w.Login("alice"), as_b = w.Login("bob");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(w.Send(as_a, "w" + std::to_string(i), b, "hi", 0, 0).error().code(), rpc::OK);
  }
  std::string conv = model::ConvId::Private(a, b).ToString();
  auto page = w.Sync(as_b, conv, 0, 1);
  ASSERT_EQ(page.error().code(), rpc::OK);
  ASSERT_EQ(page.messages_size(), 3);
  EXPECT_EQ(page.messages(2).seq(), 3u);
  EXPECT_FALSE(page.has_more());
  // And bob's hello through node 1 lists the brand-new conversation.
  rpc::ConnectRequest connect;
  connect.set_node_id(LogicWorld::kNode);
  connect.set_node_epoch(LogicWorld::kEpoch);
  connect.set_conn_id(11);
  auto hello = Wait<rpc::ConnectReply>([&](auto cb) { w.node(1).Connect(as_b, connect, cb); });
  ASSERT_EQ(hello.convs_size(), 1);
  EXPECT_EQ(hello.convs(0).conv(), conv);
  EXPECT_EQ(hello.convs(0).last_seq(), 3u);
}

}  // namespace
}  // namespace parley::logic

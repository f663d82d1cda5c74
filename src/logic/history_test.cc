// History through the Logic facade: conversation lists, sync, read cursors.
#include <gtest/gtest.h>

#include "logic/logic_test_world.h"
#include "model/conversation.h"

namespace parley::logic {
namespace {

using testing::LogicWorld;
using testing::Wait;

TEST(HistoryTest, SyncServesAcknowledgedMessagesBeforeTheyArePersisted) {
  LogicWorld w;
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  CallContext as_a = w.Login("alice"), as_b = w.Login("bob");
  for (int i = 0; i < 5; ++i) w.Send(as_a, "s" + std::to_string(i), b, "m" + std::to_string(i));
  std::string conv = model::ConvId::Private(a, b).ToString();
  rpc::SyncRequest sync;
  sync.set_conv(conv);
  sync.set_has_after(true);
  sync.set_after_seq(2);
  sync.set_limit(2);
  auto r = Wait<rpc::SyncReply>([&](auto cb) { w.node().Sync(as_b, sync, cb); });
  ASSERT_EQ(r.error().code(), rpc::OK);
  ASSERT_EQ(r.messages_size(), 2);
  EXPECT_EQ(r.messages(0).seq(), 3u);
  EXPECT_EQ(r.messages(1).body(), "m3");
  EXPECT_TRUE(r.has_more());
  w.Register("carol");
  CallContext as_c = w.Login("carol");
  EXPECT_EQ(Wait<rpc::SyncReply>([&](auto cb) { w.node().Sync(as_c, sync, cb); }).error().code(),
            rpc::PERMISSION_DENIED);
  sync.set_conv("not-a-conv");
  EXPECT_EQ(Wait<rpc::SyncReply>([&](auto cb) { w.node().Sync(as_b, sync, cb); }).error().code(),
            rpc::INVALID_ARGUMENT);
}

TEST(HistoryTest, ConnectRegistersPresenceAndListsEvenBrandNewConversations) {
  LogicWorld w;
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  w.Send(w.Login("alice"), "c1", b, "hello");
  CallContext login = w.Login("bob");
  rpc::ConnectRequest req;
  req.set_node_id(LogicWorld::kNode);
  req.set_node_epoch(LogicWorld::kEpoch);
  req.set_conn_id(5);
  auto r = Wait<rpc::ConnectReply>([&](auto cb) { w.node().Connect(login, req, cb); });
  ASSERT_EQ(r.error().code(), rpc::OK) << r.error().message();
  EXPECT_EQ(r.user_id(), b);
  // The store may not have the message yet; the list has the conversation all the same.
  ASSERT_EQ(r.convs_size(), 1);
  EXPECT_EQ(r.convs(0).conv(), model::ConvId::Private(a, b).ToString());
  EXPECT_EQ(r.convs(0).last_seq(), 1u);
  EXPECT_EQ(r.convs(0).peer(), a);
  auto online = Wait<StatusOr<std::vector<std::vector<presence::Connection>>>>(
      [&](auto cb) { w.presence().Lookup({b}, cb); });
  ASSERT_EQ((*online)[0].size(), 1u);
  EXPECT_EQ((*online)[0][0].conn_id, 5u);

  CallContext socket;
  socket.user_id = b;
  socket.session_key = r.session_key();
  rpc::DisconnectRequest d;
  d.set_node_id(LogicWorld::kNode);
  d.set_node_epoch(LogicWorld::kEpoch);
  d.set_conn_id(5);
  Wait<rpc::DisconnectReply>([&](auto cb) { w.node().Disconnect(socket, d, cb); });
  online = Wait<StatusOr<std::vector<std::vector<presence::Connection>>>>(
      [&](auto cb) { w.presence().Lookup({b}, cb); });
  EXPECT_TRUE((*online)[0].empty());
  CallContext bad;
  bad.token = "not-a-token";
  EXPECT_EQ(
      Wait<rpc::ConnectReply>([&](auto cb) { w.node().Connect(bad, req, cb); }).error().code(),
      rpc::UNAUTHENTICATED);
}

TEST(HistoryTest, ReadMovesTheCursorAndNotifiesTheOtherParticipant) {
  LogicWorld w;
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  CallContext as_a = w.Login("alice");
  w.Send(as_a, "r1", b, "one");
  w.Send(as_a, "r2", b, "two");
  w.Socket(as_a, 1);  // alice is online on the recording node
  CallContext as_b = w.Socket(w.Login("bob"), 2);
  rpc::ReadRequest read;
  read.set_conv(model::ConvId::Private(a, b).ToString());
  read.set_seq(99);  // beyond the last: clamped
  EXPECT_EQ(Wait<rpc::ReadReply>([&](auto cb) { w.node().Read(as_b, read, cb); }).error().code(),
            rpc::OK);
  auto pushes = w.connect().pushes();
  ASSERT_EQ(pushes.size(), 1u);
  const auto& ev = pushes[0].events(0);
  EXPECT_EQ(ev.read().seq(), 2u);
  EXPECT_EQ(ev.read().user_id(), b);
  EXPECT_EQ(ev.read().origin_conn(), 2u);  // the reading socket is skipped by connect
  EXPECT_EQ(ev.user_ids_size(), 2);
}

}  // namespace
}  // namespace parley::logic

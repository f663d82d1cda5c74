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

rpc::ReadReply Read(LogicWorld& w, const CallContext& as, const std::string& conv, uint64_t seq) {
  rpc::ReadRequest read;
  read.set_conv(conv);
  read.set_seq(seq);
  return Wait<rpc::ReadReply>([&](auto cb) { w.node().Read(as, read, cb); });
}

rpc::SyncReply Page(LogicWorld& w, const CallContext& as, rpc::SyncRequest req) {
  return Wait<rpc::SyncReply>([&](auto cb) { w.node().Sync(as, req, cb); });
}

std::vector<uint64_t> Seqs(const rpc::SyncReply& r) {
  std::vector<uint64_t> seqs;
  for (const auto& m : r.messages()) seqs.push_back(m.seq());
  return seqs;
}

TEST(HistoryTest, AReadThatMovesNothingIsAnsweredButNeitherWrittenNorPushed) {
  LogicWorld w;
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  CallContext as_a = w.Login("alice");
  for (int i = 0; i < 3; ++i) w.Send(as_a, "r" + std::to_string(i), b, "m");
  w.Socket(as_a, 1);
  CallContext as_b = w.Socket(w.Login("bob"), 2);
  std::string conv = model::ConvId::Private(a, b).ToString();
  auto r = Read(w, as_b, conv, 2);
  ASSERT_EQ(r.error().code(), rpc::OK);
  EXPECT_EQ(r.seq(), 2u);
  ASSERT_EQ(w.connect().pushes().size(), 1u);
  for (uint64_t seq : {2, 1, 0, 2}) {
    r = Read(w, as_b, conv, seq);
    ASSERT_EQ(r.error().code(), rpc::OK);
    EXPECT_EQ(r.seq(), 2u);  // the cursor, unmoved
  }
  EXPECT_EQ(w.connect().pushes().size(), 1u);
  r = Read(w, as_b, conv, 3);  // moves it: written and pushed once more
  EXPECT_EQ(r.seq(), 3u);
  EXPECT_EQ(w.connect().pushes().size(), 2u);
  EXPECT_EQ(w.connect().pushes()[1].events(0).read().seq(), 3u);
  // It was written: a second node, which has seen no read, learns the cursor
  // from the store and pushes nothing for a read below it.
  Logic& other = w.AddNode();
  rpc::ReadRequest read;
  read.set_conv(conv);
  read.set_seq(2);
  auto r2 = Wait<rpc::ReadReply>([&](auto cb) { other.Read(as_b, read, cb); });
  EXPECT_EQ(r2.seq(), 3u);
  EXPECT_EQ(w.connect().pushes().size(), 2u);
}

TEST(HistoryTest, ReadsAndSyncsAreRateLimitedPerUser) {
  Options o = testing::TestOptions();
  o.rate.read_per_sec = 1;
  o.rate.read_burst = 3;
  o.rate.sync_per_sec = 2;
  o.rate.sync_burst = 2;
  LogicWorld w(o);
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  CallContext as_a = w.Login("alice"), as_b = w.Login("bob");
  w.Send(as_a, "x", b, "m");
  std::string conv = model::ConvId::Private(a, b).ToString();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Read(w, as_b, conv, 1).error().code(), rpc::OK);
  auto limited = Read(w, as_b, conv, 1);
  EXPECT_EQ(limited.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(limited.error().retry_after_ms(), 1000);
  EXPECT_EQ(Read(w, as_a, conv, 1).error().code(), rpc::OK);  // per user
  rpc::SyncRequest sync;
  sync.set_conv(conv);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Page(w, as_b, sync).error().code(), rpc::OK);
  auto slow = Page(w, as_b, sync);
  EXPECT_EQ(slow.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(slow.error().retry_after_ms(), 500);
  w.clock().AdvanceMs(500);
  EXPECT_EQ(Page(w, as_b, sync).error().code(), rpc::OK);
}

TEST(HistoryTest, PagesAreCutByBytesAndSayHasMoreLikeCountPaging) {
  Options o = testing::TestOptions();
  o.limits.sync_reply_max_bytes = 20'000;
  LogicWorld w(o);
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  CallContext as_a = w.Login("alice"), as_b = w.Login("bob");
  // Control characters escape to six bytes each: ~6 KB of JSON per message.
  for (int i = 0; i < 10; ++i) w.Send(as_a, "c" + std::to_string(i), b, std::string(1000, '\x01'));
  std::string conv = model::ConvId::Private(a, b).ToString();
  rpc::SyncRequest sync;
  sync.set_conv(conv);
  sync.set_has_after(true);
  sync.set_limit(10);
  std::vector<uint64_t> all;
  for (int pages = 1;; ++pages) {
    ASSERT_LE(pages, 4);
    auto r = Page(w, as_b, sync);
    ASSERT_EQ(r.error().code(), rpc::OK);
    EXPECT_EQ(r.messages_size(), r.has_more() ? 3 : 1);
    for (uint64_t s : Seqs(r)) all.push_back(s);
    if (!r.has_more()) break;
    sync.set_after_seq(all.back());
  }
  EXPECT_EQ(all, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // Backwards (the newest page, then before_seq): the newest that fit.
  rpc::SyncRequest newest;
  newest.set_conv(conv);
  newest.set_limit(10);
  auto r = Page(w, as_b, newest);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_TRUE(r.has_more());
  newest.set_before_seq(2);
  r = Page(w, as_b, newest);
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{1}));
  EXPECT_FALSE(r.has_more());
  // A bound below one message still serves one at a time.
  o.limits.sync_reply_max_bytes = 100;
  Logic& tight = w.AddNode(&o);
  sync.set_after_seq(0);
  r = Wait<rpc::SyncReply>([&](auto cb) { tight.Sync(as_b, sync, cb); });
  EXPECT_EQ(r.messages_size(), 1);
}

TEST(HistoryTest, MessagesTheByteBoundEvictedBeforeTheStoreHasThemAreUnavailableNotSkipped) {
  Options o = testing::TestOptions();
  o.storage.recent_conv_max_bytes = 10'000;  // about two 4 KB messages
  LogicWorld w(o);                           // no persist consumer: the store never has them
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  CallContext as_a = w.Login("alice"), as_b = w.Login("bob");
  for (int i = 0; i < 6; ++i) w.Send(as_a, "e" + std::to_string(i), b, std::string(4000, 'e'));
  std::string conv = model::ConvId::Private(a, b).ToString();
  rpc::SyncRequest sync;
  sync.set_conv(conv);
  sync.set_has_after(true);
  EXPECT_EQ(Page(w, as_b, sync).error().code(), rpc::UNAVAILABLE);  // 1.. evicted
  sync.set_after_seq(4);
  EXPECT_EQ(Seqs(Page(w, as_b, sync)), (std::vector<uint64_t>{5, 6}));  // still held
}

TEST(HistoryTest, SeqsAboveTheJsonSafeRangeAreInvalid) {
  LogicWorld w;
  uint64_t a = w.Register("alice"), b = w.Register("bob");
  CallContext as_a = w.Login("alice");
  w.Send(as_a, "x", b, "m");
  std::string conv = model::ConvId::Private(a, b).ToString();
  const uint64_t too_big = 1ULL << 53;
  rpc::SyncRequest sync;
  sync.set_conv(conv);
  sync.set_has_after(true);
  sync.set_after_seq(too_big);
  EXPECT_EQ(Page(w, as_a, sync).error().code(), rpc::INVALID_ARGUMENT);
  sync.set_after_seq(UINT64_MAX - 5);  // would wrap in after_seq + limit
  EXPECT_EQ(Page(w, as_a, sync).error().code(), rpc::INVALID_ARGUMENT);
  rpc::SyncRequest before;
  before.set_conv(conv);
  before.set_before_seq(UINT64_MAX);
  EXPECT_EQ(Page(w, as_a, before).error().code(), rpc::INVALID_ARGUMENT);
  before.set_before_seq(too_big - 1);  // the largest valid: the newest page
  EXPECT_EQ(Seqs(Page(w, as_a, before)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Read(w, as_a, conv, too_big).error().code(), rpc::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace parley::logic

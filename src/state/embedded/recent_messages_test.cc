#include "state/embedded/recent_messages.h"

#include <gtest/gtest.h>

namespace parley::state {
namespace {

rpc::ChatMessage Msg(const std::string& conv, uint64_t seq) {
  rpc::ChatMessage m;
  m.set_conv(conv);
  m.set_seq(seq);
  m.set_body("m" + std::to_string(seq));
  return m;
}

TEST(RecentMessages, KeepsTheNewestPerConversation) {
  RecentMessages recent(3, 10);
  for (uint64_t s = 1; s <= 5; ++s) recent.Add(Msg("p:1:2", s));
  EXPECT_EQ(recent.FirstSeq("p:1:2"), 3u);
  google::protobuf::RepeatedPtrField<rpc::ChatMessage> out;
  EXPECT_EQ(recent.Copy("p:1:2", 3, 10, &out), 5u);
  ASSERT_EQ(out.size(), 3);
  EXPECT_EQ(out[0].seq(), 3u);
  EXPECT_EQ(out[2].seq(), 5u);
}

TEST(RecentMessages, CopyReturnsNothingBelowTheWindow) {
  RecentMessages recent(3, 10);
  for (uint64_t s = 1; s <= 5; ++s) recent.Add(Msg("g:1", s));
  google::protobuf::RepeatedPtrField<rpc::ChatMessage> out;
  EXPECT_EQ(recent.Copy("g:1", 2, 5, &out), 1u);  // seq 2 is gone: nothing, to avoid a gap
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(recent.Copy("g:9", 1, 5, &out), 0u);
}

TEST(RecentMessages, EvictsTheLeastRecentlyActiveConversation) {
  RecentMessages recent(3, 2);
  recent.Add(Msg("g:1", 1));
  recent.Add(Msg("g:2", 1));
  recent.Add(Msg("g:1", 2));  // g:1 is now the most recent
  recent.Add(Msg("g:3", 1));  // evicts g:2
  EXPECT_EQ(recent.FirstSeq("g:2"), 0u);
  EXPECT_EQ(recent.FirstSeq("g:1"), 1u);
  EXPECT_EQ(recent.FirstSeq("g:3"), 1u);
}

TEST(RecentMessages, AGapRestartsTheWindow) {
  RecentMessages recent(10, 2);
  recent.Add(Msg("g:1", 1));
  recent.Add(Msg("g:1", 2));
  recent.Add(Msg("g:1", 7));
  EXPECT_EQ(recent.FirstSeq("g:1"), 7u);
}

rpc::ChatMessage Big(const std::string& conv, uint64_t seq, size_t body) {
  rpc::ChatMessage m = Msg(conv, seq);
  m.set_body(std::string(body, 'x'));
  return m;
}

TEST(RecentMessages, AConversationIsBoundedByBytesOldestFirst) {
  const size_t cost = RecentMessages::Cost(Big("g:1", 1, 1000));
  RecentMessages recent(256, 10, /*conv_max_bytes=*/3 * cost);
  for (uint64_t s = 1; s <= 10; ++s) recent.Add(Big("g:1", s, 1000));
  EXPECT_EQ(recent.FirstSeq("g:1"), 8u);  // 8, 9, 10: three fit
  EXPECT_LE(recent.bytes(), 3 * cost);
}

TEST(RecentMessages, TheNewestMessageStaysWhateverItsSize) {
  RecentMessages recent(256, 10, /*conv_max_bytes=*/100, /*max_bytes=*/100);
  recent.Add(Msg("g:1", 1));
  recent.Add(Big("g:1", 2, 5000));
  EXPECT_EQ(recent.FirstSeq("g:1"), 2u);
}

TEST(RecentMessages, TheTotalDropsTheLeastRecentlyActiveConversationsFirst) {
  const size_t cost = RecentMessages::Cost(Big("g:1", 1, 1000));
  RecentMessages recent(256, 100, SIZE_MAX, /*max_bytes=*/4 * cost);
  recent.Add(Big("g:1", 1, 1000));
  recent.Add(Big("g:2", 1, 1000));
  recent.Add(Big("g:3", 1, 1000));
  recent.Add(Big("g:1", 2, 1000));  // g:2 is now the least recently active
  recent.Add(Big("g:4", 1, 1000));  // over the total: g:2 goes
  EXPECT_EQ(recent.FirstSeq("g:2"), 0u);
  EXPECT_EQ(recent.FirstSeq("g:1"), 1u);
  EXPECT_EQ(recent.FirstSeq("g:4"), 1u);
  EXPECT_LE(recent.bytes(), 4 * cost);
  // One conversation alone over the total keeps its newest messages.
  for (uint64_t s = 3; s <= 20; ++s) recent.Add(Big("g:1", s, 1000));
  EXPECT_EQ(recent.conversations(), 1u);
  EXPECT_EQ(recent.FirstSeq("g:1"), 17u);
  EXPECT_LE(recent.bytes(), 4 * cost);
}

TEST(RecentMessages, EvictedBytesAreGivenBack) {
  RecentMessages recent(2, 1);
  recent.Add(Big("g:1", 1, 500));
  recent.Add(Big("g:1", 2, 500));
  recent.Add(Big("g:1", 3, 500));
  EXPECT_EQ(recent.bytes(), 2 * RecentMessages::Cost(Big("g:1", 3, 500)));
  recent.Add(Msg("g:2", 1));  // drops g:1 (one conversation at most)
  EXPECT_EQ(recent.bytes(), RecentMessages::Cost(Msg("g:2", 1)));
  recent.Add(Msg("g:2", 5));  // a gap restarts it
  EXPECT_EQ(recent.bytes(), RecentMessages::Cost(Msg("g:2", 5)));
}

}  // namespace
}  // namespace parley::state

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

}  // namespace
}  // namespace parley::state

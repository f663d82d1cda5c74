#include "redis/partition.h"

#include <set>

#include <gtest/gtest.h>

namespace parley::redis {
namespace {

TEST(PartitionTest, IsFnv1aModuloPartitions) {
  // FNV-1a 64 of "" is the offset basis, of "a" a published test vector:
  // pinned so that no version ever moves a conversation.
  EXPECT_EQ(PartitionOf("", 1000), 14695981039346656037ull % 1000);
  EXPECT_EQ(PartitionOf("a", 1000), 0xaf63dc4c8601ec8cull % 1000);
  EXPECT_EQ(PartitionOf("p:1:2", 16), PartitionOf("p:1:2", 16));
  EXPECT_EQ(PartitionOf("anything", 1), 0u);
}

TEST(PartitionTest, SpreadsConversations) {
  std::set<uint32_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint32_t p = PartitionOf("g:" + std::to_string(i), 16);
    EXPECT_LT(p, 16u);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 16u);
}

TEST(PartitionTest, KeysShareTheirPartitionsHashTagAndSendsTheirSenders) {
  EXPECT_EQ(PartitionTag(3), "{p3}");
  EXPECT_EQ(LogKey(3), "parley:{p3}:log");
  EXPECT_EQ(SeqKey(3, "p:1:2"), "parley:{p3}:seq:p:1:2");
  EXPECT_EQ(LeaseKey(3, "g:9"), "parley:{p3}:lease:g:9");
  EXPECT_EQ(SentKey(42, "c-1"), "parley:{u42}:sent:c-1");
}

}  // namespace
}  // namespace parley::redis

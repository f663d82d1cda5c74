#include "queue/sqlite/entry_ring.h"

#include <gtest/gtest.h>

namespace parley::queue {
namespace {

rpc::ChatMessage Msg(uint64_t id) {
  rpc::ChatMessage m;
  m.set_msg_id(id);
  m.set_body("body " + std::to_string(id));
  return m;
}

TEST(EntryRingTest, KeepsFifoOrderAcrossWrapAndGrowth) {
  EntryRing ring;
  uint64_t next_in = 1, next_out = 1;
  // Interleave pushes and pops so that the head wraps before each growth.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 7 + round * 3; ++i) {
      ring.push_back(next_in, Msg(next_in));
      ++next_in;
    }
    for (int i = 0; i < 5 + round * 2; ++i) {
      ASSERT_FALSE(ring.empty());
      EXPECT_EQ(ring[0].offset, next_out);
      EXPECT_EQ(ring[0].message.msg_id(), next_out);
      ring.pop_front();
      ++next_out;
    }
    ASSERT_EQ(ring.size(), next_in - next_out);
    for (size_t i = 0; i < ring.size(); ++i) {
      ASSERT_EQ(ring[i].offset, next_out + i);
      ASSERT_EQ(ring[i].message.body(), "body " + std::to_string(next_out + i));
    }
  }
  while (!ring.empty()) ring.pop_front();
  EXPECT_EQ(ring.size(), 0u);
}

}  // namespace
}  // namespace parley::queue

#include "logic/read_cursors.h"

#include <gtest/gtest.h>

namespace parley::logic {
namespace {

TEST(ReadCursorsTest, RemembersTheHighestCursorPerUserAndConversation) {
  ReadCursors cursors(10);
  EXPECT_EQ(cursors.Get(1, "g:1"), 0u);
  cursors.Raise(1, "g:1", 5);
  cursors.Raise(1, "g:1", 3);  // never down
  cursors.Raise(2, "g:1", 7);
  EXPECT_EQ(cursors.Get(1, "g:1"), 5u);
  EXPECT_EQ(cursors.Get(2, "g:1"), 7u);
  EXPECT_EQ(cursors.Get(1, "g:2"), 0u);
}

TEST(ReadCursorsTest, IsBoundedAndForgetsWhenFull) {
  ReadCursors cursors(3);
  for (uint64_t u = 1; u <= 100; ++u) {
    cursors.Raise(u, "p:1:2", u);
    EXPECT_LE(cursors.size(), 3u);
  }
  EXPECT_EQ(cursors.Get(100, "p:1:2"), 100u);
  EXPECT_EQ(cursors.Get(1, "p:1:2"), 0u);  // forgotten: the next read goes to the store
  ReadCursors none(0);
  none.Raise(1, "g:1", 1);
  EXPECT_EQ(none.size(), 0u);
}

}  // namespace
}  // namespace parley::logic

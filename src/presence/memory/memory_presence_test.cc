#include "presence/memory/memory_presence.h"

#include <gtest/gtest.h>

namespace parley::presence {
namespace {

TEST(MemoryPresence, UserIsOnlineWhileItHoldsAConnection) {
  MemoryPresence p;
  EXPECT_FALSE(p.IsOnline(7));
  p.Add(7, {"n1", 1});
  p.Add(7, {"n1", 2});
  EXPECT_TRUE(p.IsOnline(7));
  p.Remove(7, {"n1", 1});
  EXPECT_TRUE(p.IsOnline(7));
  p.Remove(7, {"n1", 2});
  EXPECT_FALSE(p.IsOnline(7));
}

TEST(MemoryPresence, NodesOfListsEachNodeOnce) {
  MemoryPresence p;
  p.Add(7, {"n1", 1});
  p.Add(7, {"n2", 2});
  p.Add(7, {"n1", 3});
  EXPECT_EQ(p.NodesOf(7), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_TRUE(p.NodesOf(8).empty());
}

TEST(MemoryPresence, RemoveNodeDropsItsConnections) {
  MemoryPresence p;
  p.Add(7, {"n1", 1});
  p.Add(8, {"n2", 2});
  p.RemoveNode("n1");
  EXPECT_FALSE(p.IsOnline(7));
  EXPECT_TRUE(p.IsOnline(8));
}

TEST(MemoryPresence, RemovingAnUnknownConnectionIsHarmless) {
  MemoryPresence p;
  p.Remove(7, {"n1", 1});
  p.Add(7, {"n1", 1});
  p.Remove(7, {"n1", 99});
  EXPECT_TRUE(p.IsOnline(7));
}

}  // namespace
}  // namespace parley::presence

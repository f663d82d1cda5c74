#include "discovery/static/static_discovery.h"

#include <gtest/gtest.h>

namespace parley::discovery {
namespace {

TEST(StaticDiscovery, ListsNodesOfARoleLeastLoadedFirst) {
  StaticDiscovery d({{"c1", "connect", "a:1", "ws://a:1/ws", 5},
                     {"l1", "logic", "a:2", "", 0},
                     {"c2", "connect", "b:1", "ws://b:1/ws", 2}});
  auto nodes = d.Nodes("connect");
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].node_id, "c2");
  d.ReportLoad("c2", 9);
  EXPECT_EQ(d.Nodes("connect")[0].node_id, "c1");
  EXPECT_TRUE(d.Nodes("task").empty());
}

}  // namespace
}  // namespace parley::discovery

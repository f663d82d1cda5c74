#include "model/conversation.h"

#include <gtest/gtest.h>

namespace parley::model {
namespace {

TEST(ConvId, PrivateIdsPutTheSmallerUserFirst) {
  EXPECT_EQ(ConvId::Private(9, 3).ToString(), "p:3:9");
  EXPECT_EQ(ConvId::Private(3, 9).ToString(), "p:3:9");
  EXPECT_EQ(ConvId::Private(4, 4).ToString(), "p:4:4");
  EXPECT_EQ(ConvId::Group(12).ToString(), "g:12");
}

TEST(ConvId, ParsesOnlyCanonicalIds) {
  auto p = ConvId::Parse("p:3:9");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->HasParticipant(3));
  EXPECT_TRUE(p->HasParticipant(9));
  EXPECT_FALSE(p->HasParticipant(4));
  EXPECT_EQ(p->PeerOf(3), 9u);
  auto g = ConvId::Parse("g:12");
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->is_group());
  EXPECT_EQ(g->group_id(), 12u);
  for (const char* bad : {"", "p:", "p:9:3", "p:3", "p:3:9:1", "g:", "g:0", "g:01", "x:1", "g:-1",
                          "p:1:9007199254740992", "g:12a", "p::3"}) {
    EXPECT_FALSE(ConvId::Parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace parley::model

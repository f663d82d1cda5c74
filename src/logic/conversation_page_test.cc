// Paging a conversation list: every conversation exactly once, newest first,
// whatever changes between pages.
#include "logic/conversation_page.h"

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::logic {
namespace {

rpc::ConvState Conv(std::string conv, int64_t last_ts) {
  rpc::ConvState c;
  c.set_conv(std::move(conv));
  c.set_last_ts(last_ts);
  return c;
}

std::vector<std::string> Ids(const ConversationPage& page) {
  std::vector<std::string> out;
  for (const auto& c : page.convs) out.push_back(c.conv());
  return out;
}

TEST(ConversationPageTest, PagesListEveryConversationOnceNewestFirst) {
  std::vector<rpc::ConvState> all = {Conv("g:3", 0), Conv("p:1:2", 30), Conv("g:10", 0),
                                     Conv("p:1:3", 50), Conv("g:2", 10)};
  auto first = PageConversations(all, "", 2);
  ASSERT_OK(first.status());
  EXPECT_EQ(Ids(*first), (std::vector<std::string>{"p:1:3", "p:1:2"}));
  ASSERT_TRUE(first->has_more);
  auto second = PageConversations(all, first->next, 2);
  ASSERT_OK(second.status());
  EXPECT_EQ(Ids(*second), (std::vector<std::string>{"g:2", "g:10"}));  // ties: larger id first
  auto third = PageConversations(all, second->next, 2);
  ASSERT_OK(third.status());
  EXPECT_EQ(Ids(*third), (std::vector<std::string>{"g:3"}));
  EXPECT_FALSE(third->has_more);
  EXPECT_TRUE(third->next.empty());

  auto whole = PageConversations(all, "", 5);
  EXPECT_EQ(whole->convs.size(), 5u);
  EXPECT_FALSE(whole->has_more);
}

TEST(ConversationPageTest, ChangesBetweenPagesNeitherRepeatNorSkipTheRest) {
  std::vector<rpc::ConvState> all = {Conv("p:1:2", 40), Conv("p:1:3", 30), Conv("p:1:4", 20),
                                     Conv("p:1:5", 10)};
  auto first = PageConversations(all, "", 2);
  // Meanwhile p:1:2 (already listed) is left, a new group appears at the
  // front, and p:1:3 becomes active.
  all = {Conv("g:9", 50), Conv("p:1:3", 60), Conv("p:1:4", 20), Conv("p:1:5", 10)};
  auto second = PageConversations(all, first->next, 2);
  ASSERT_OK(second.status());
  EXPECT_EQ(Ids(*second), (std::vector<std::string>{"p:1:4", "p:1:5"}));
  EXPECT_FALSE(second->has_more);
}

TEST(ConversationPageTest, ACursorNotFromAListingIsRefused) {
  for (const char* bad : {"x", "12", "~p:1:2", "-1~p:1:2", "1~p:2:1", "1~", "9a~g:1"}) {
    EXPECT_EQ(PageConversations({}, bad, 10).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_OK(PageConversations({}, "0~g:1", 10).status());
}

}  // namespace
}  // namespace parley::logic

// The contract of state::RecentWindow, written once and run against every
// implementation. Instantiate with a factory type F that has
//   state::RecentWindow& Node(int i);  // i = 0, 1: two logic nodes' views
// over one fresh, empty window (the same object for an in-process one), and
//   static constexpr size_t kConvMaxBytes;  // the window's bytes per conversation
// (it must hold at least a few messages of ~1 KiB).
#pragma once

#include <gtest/gtest.h>

#include "state/recent_window.h"
#include "support/test_util.h"

namespace parley::state::testing {

template <typename F>
class RecentWindowContract : public ::testing::Test {
 protected:
  static constexpr int64_t kNow = 1'800'000'000'000;

  RecentWindow& node(int i = 0) { return factory_.Node(i); }
  static rpc::ChatMessage Message(const std::string& conv, uint64_t seq, uint64_t from = 1,
                                  uint64_t to_user = 2) {
    rpc::ChatMessage m;
    m.set_msg_id(9000 + seq);
    m.set_conv(conv);
    m.set_seq(seq);
    m.set_from(from);
    m.set_to_user(to_user);
    m.set_body("body " + std::to_string(seq));
    m.set_ts(kNow);
    m.set_request_id("rid");
    m.set_origin_node("n1");
    m.set_origin_conn(7);
    return m;
  }
  void Add(std::vector<rpc::ChatMessage> messages, int n = 0, int64_t now = kNow) {
    ASSERT_OK(
        parley::testing::Wait<Status>([&](auto cb) { node(n).Add(std::move(messages), now, cb); }));
  }
  std::vector<uint64_t> Seqs(const std::string& conv, uint64_t lo, uint64_t hi, int n = 0) {
    auto held = parley::testing::Wait<StatusOr<std::vector<rpc::ChatMessage>>>(
        [&](auto cb) { node(n).Range(conv, lo, hi, cb); });
    EXPECT_TRUE(held.ok()) << held.status().message();
    std::vector<uint64_t> seqs;
    if (held.ok()) {
      for (const auto& m : *held) seqs.push_back(m.seq());
    }
    return seqs;
  }
  std::vector<std::pair<std::string, uint64_t>> New(uint64_t user, int n = 0, int64_t now = kNow) {
    auto convs = parley::testing::Wait<StatusOr<std::vector<std::pair<std::string, uint64_t>>>>(
        [&](auto cb) { node(n).NewConversations(user, now, cb); });
    EXPECT_TRUE(convs.ok()) << convs.status().message();
    return convs.ok() ? *convs : std::vector<std::pair<std::string, uint64_t>>{};
  }

  F factory_;
};

TYPED_TEST_SUITE_P(RecentWindowContract);

TYPED_TEST_P(RecentWindowContract, AddedMessagesAreServedInRangesByEveryNode) {
  std::vector<rpc::ChatMessage> batch;
  for (uint64_t s = 1; s <= 5; ++s) batch.push_back(this->Message("p:1:2", s));
  this->Add(batch, 0);
  EXPECT_EQ(this->Seqs("p:1:2", 2, 4, 1), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(this->Seqs("p:1:2", 4, 99, 1), (std::vector<uint64_t>{4, 5}));
  EXPECT_TRUE(this->Seqs("p:1:2", 6, 9, 0).empty());  // not yet
  EXPECT_TRUE(this->Seqs("p:1:3", 1, 9, 0).empty());  // another conversation
  auto held = parley::testing::Wait<StatusOr<std::vector<rpc::ChatMessage>>>(
      [&](auto cb) { this->node(1).Range("p:1:2", 3, 3, cb); });
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].body(), "body 3");
  EXPECT_EQ((*held)[0].msg_id(), 9003u);
  EXPECT_TRUE((*held)[0].request_id().empty());  // push-only fields are not kept
  EXPECT_TRUE((*held)[0].origin_node().empty());
}

TYPED_TEST_P(RecentWindowContract, AGapRestartsTheWindow) {
  this->Add({this->Message("g:1", 1, 1, 0), this->Message("g:1", 2, 1, 0)});
  this->Add({this->Message("g:1", 5, 1, 0)}, 1);  // 3 and 4 were never added
  EXPECT_TRUE(this->Seqs("g:1", 1, 5).empty());
  EXPECT_EQ(this->Seqs("g:1", 5, 5), (std::vector<uint64_t>{5}));
  this->Add({this->Message("g:1", 6, 1, 0)});
  EXPECT_EQ(this->Seqs("g:1", 5, 9, 1), (std::vector<uint64_t>{5, 6}));
}

TYPED_TEST_P(RecentWindowContract, TheFirstMessageOfAPrivateConversationMakesItNewForBoth) {
  this->Add({this->Message("p:1:2", 1, 1, 2), this->Message("g:4", 1, 1, 0),
             this->Message("p:1:3", 7, 1, 3)});
  using Convs = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(this->New(1, 1), (Convs{{"p:1:2", 2}}));  // not the group, not an old one
  EXPECT_EQ(this->New(2, 0), (Convs{{"p:1:2", 1}}));
  EXPECT_TRUE(this->New(3).empty());
  EXPECT_EQ(this->New(2, 1, this->kNow + 30'000), (Convs{{"p:1:2", 1}}));  // still new a bit later
}

TYPED_TEST_P(RecentWindowContract, AConversationIsBoundedByBytesAndKeepsItsNewestRun) {
  const size_t max = TypeParam::kConvMaxBytes;
  const size_t total = 4 * max / 1000 + 4;  // ~4x the bound in 1 KiB messages
  for (uint64_t s = 1; s <= total; ++s) {
    rpc::ChatMessage m = this->Message("g:7", s, 1, 0);
    m.set_body(std::string(1000, 'x'));
    this->Add({m}, static_cast<int>(s % 2));
  }
  auto held = parley::testing::Wait<StatusOr<std::vector<rpc::ChatMessage>>>(
      [&](auto cb) { this->node(1).Range("g:7", 1, total, cb); });
  ASSERT_OK(held.status());
  EXPECT_TRUE(held->empty());  // the oldest were evicted: nothing from seq 1
  // What is held is the newest run, contiguous up to the last added, within
  // the bound (counted at least as the serialized messages).
  uint64_t first = total;
  while (first > 1 && !this->Seqs("g:7", first - 1, total).empty()) --first;
  std::vector<uint64_t> seqs = this->Seqs("g:7", first, total);
  ASSERT_FALSE(seqs.empty());
  EXPECT_EQ(seqs.back(), total);
  EXPECT_LT(seqs.size(), total);
  auto run = parley::testing::Wait<StatusOr<std::vector<rpc::ChatMessage>>>(
      [&](auto cb) { this->node(0).Range("g:7", first, total, cb); });
  ASSERT_OK(run.status());
  size_t bytes = 0;
  for (const auto& m : *run) bytes += m.ByteSizeLong();
  EXPECT_LE(bytes, max);
  EXPECT_GE(bytes, max / 2);  // and not much less: it evicts only what it must
}

TYPED_TEST_P(RecentWindowContract, AMessageOverTheByteBoundIsStillHeldAlone) {
  rpc::ChatMessage small = this->Message("g:8", 1, 1, 0);
  rpc::ChatMessage big = this->Message("g:8", 2, 1, 0);
  big.set_body(std::string(TypeParam::kConvMaxBytes + 10, 'y'));
  this->Add({small, big});
  EXPECT_TRUE(this->Seqs("g:8", 1, 2).empty());
  EXPECT_EQ(this->Seqs("g:8", 2, 2, 1), (std::vector<uint64_t>{2}));
  this->Add({this->Message("g:8", 3, 1, 0)}, 1);  // and the window goes on after it
  EXPECT_EQ(this->Seqs("g:8", 3, 3), (std::vector<uint64_t>{3}));
}

REGISTER_TYPED_TEST_SUITE_P(RecentWindowContract, AddedMessagesAreServedInRangesByEveryNode,
                            AGapRestartsTheWindow,
                            TheFirstMessageOfAPrivateConversationMakesItNewForBoth,
                            AConversationIsBoundedByBytesAndKeepsItsNewestRun,
                            AMessageOverTheByteBoundIsStillHeldAlone);

}  // namespace parley::state::testing

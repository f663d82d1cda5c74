#include "load/delivery_checker.h"

#include <gtest/gtest.h>

#include "load/scenarios.h"

namespace parley::bench {
namespace {

TEST(ConvKeyTest, ParsesCanonicalIdsOnly) {
  EXPECT_EQ(ConvKey("p:1:2"), PrivateConvKey(1, 2));
  EXPECT_EQ(ConvKey("p:3:3"), PrivateConvKey(3, 3));
  EXPECT_EQ(ConvKey("g:42"), GroupConvKey(42));
  EXPECT_NE(ConvKey("g:42"), ConvKey("p:0:42"));
  EXPECT_EQ(ConvKey("p:2:1"), 0u);  // not canonical
  EXPECT_EQ(ConvKey("p:1"), 0u);
  EXPECT_EQ(ConvKey("g:"), 0u);
  EXPECT_EQ(ConvKey("x:1:2"), 0u);
  EXPECT_EQ(ConvKey("p:1:2x"), 0u);
  EXPECT_EQ(PrivateConvKey(5, 2), PrivateConvKey(2, 5));
}

TEST(DeliveryCheckerTest, CleanRunWithPushesBeforeAndAfterAcks) {
  DeliveryChecker c(3);
  uint64_t conv = PrivateConvKey(1, 2);
  uint64_t a = c.OnSend(100, conv, 0, 1, 1, true);
  uint64_t b = c.OnSend(200, conv, 0, 1, 1, true);
  EXPECT_EQ(c.outstanding(), 2u);
  EXPECT_EQ(c.OnAck(a, conv, 1, 1100), 1000);
  EXPECT_EQ(c.outstanding(), 2u);  // b's ack and a's delivery
  EXPECT_EQ(c.OnDelivery(1, a, conv, 1, 1500), 1400);
  EXPECT_EQ(c.OnDelivery(1, b, conv, 2, 1600), 1400);  // push before its ack
  EXPECT_EQ(c.OnAck(b, conv, 2, 1700), 1500);
  EXPECT_EQ(c.outstanding(), 0u);
  DeliveryTally t = c.Finish();
  EXPECT_TRUE(t.clean());
  EXPECT_EQ(t.sent, 2u);
  EXPECT_EQ(t.acked, 2u);
}

TEST(DeliveryCheckerTest, CountsLostAndUnacked) {
  DeliveryChecker c(3);
  uint64_t conv = GroupConvKey(7);
  uint64_t a = c.OnSend(0, conv, 0, 2, 1, true);  // to connections 1 and 2
  c.OnSend(0, conv, 0, 2, 1, true);               // never acked
  c.OnAck(a, conv, 1, 10);
  c.OnDelivery(1, a, conv, 1, 20);
  DeliveryTally t = c.Finish();
  EXPECT_FALSE(t.clean());
  EXPECT_EQ(t.lost, 1u);
  EXPECT_EQ(t.unacked, 1u);
}

TEST(DeliveryCheckerTest, CountsDuplicatesAndDisorderPerConnection) {
  DeliveryChecker c(2);
  uint64_t conv = PrivateConvKey(1, 2);
  uint64_t a = c.OnSend(0, conv, 0, 1, 1, true);
  uint64_t b = c.OnSend(0, conv, 0, 1, 1, true);
  c.OnAck(a, conv, 1, 1);
  c.OnAck(b, conv, 2, 1);
  EXPECT_GE(c.OnDelivery(1, b, conv, 2, 5), 0);
  EXPECT_EQ(c.OnDelivery(1, a, conv, 1, 6), -1);  // seq 1 after seq 2
  EXPECT_EQ(c.OnDelivery(1, b, conv, 2, 7), -1);  // seq 2 again
  DeliveryTally t = c.Finish();
  EXPECT_EQ(t.out_of_order, 1u);
  EXPECT_EQ(t.duplicated, 1u);
  EXPECT_EQ(t.lost, 1u);  // a never arrived in order
}

TEST(DeliveryCheckerTest, ChecksSeqsOfEachConversation) {
  DeliveryChecker c(2);
  uint64_t conv = PrivateConvKey(1, 2);
  uint64_t other = PrivateConvKey(1, 3);
  uint64_t a = c.OnSend(0, conv, 0, 0, 1, false);
  uint64_t b = c.OnSend(0, conv, 0, 0, 1, false);
  uint64_t d = c.OnSend(0, conv, 0, 0, 1, false);
  uint64_t e = c.OnSend(0, other, 0, 0, 1, false);
  c.OnAck(a, conv, 2, 1);  // sent first, sequenced after b
  c.OnAck(b, conv, 1, 1);
  c.OnAck(d, conv, 4, 1);   // seq 3 skipped
  c.OnAck(e, other, 9, 1);  // another conversation, alone: fine
  DeliveryTally t = c.Finish();
  EXPECT_EQ(t.seq_gaps, 1u);
  EXPECT_EQ(t.send_order, 1u);
  EXPECT_EQ(t.seq_reused, 0u);
  EXPECT_EQ(t.lost, 0u);
}

TEST(DeliveryCheckerTest, RejectsMismatchesAndUnknownIds) {
  DeliveryChecker c(2);
  uint64_t conv = PrivateConvKey(1, 2);
  uint64_t a = c.OnSend(0, conv, 0, 1, 1, true);
  EXPECT_EQ(c.OnAck(a, PrivateConvKey(1, 3), 1, 1), 1);  // counted, but mismatched
  EXPECT_EQ(c.OnDelivery(1, 99, conv, 1, 1), -1);
  c.OnRefused(a);  // a second answer
  DeliveryTally t = c.Finish();
  EXPECT_EQ(t.mismatched, 1u);
  EXPECT_EQ(t.unknown, 1u);
  EXPECT_EQ(t.duplicated, 1u);
}

TEST(ParseSweepTest, StepsByFactorUpToMax) {
  auto r = ParseSweep("1000:1.5:5000");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<double>{1000, 1500, 2250, 3375}));
  EXPECT_FALSE(ParseSweep("1000:1:5000").ok());
  EXPECT_FALSE(ParseSweep("1000:2").ok());
  EXPECT_FALSE(ParseSweep("a:2:3").ok());
}

}  // namespace
}  // namespace parley::bench

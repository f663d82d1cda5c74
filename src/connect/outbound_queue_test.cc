#include "connect/outbound_queue.h"

#include <gtest/gtest.h>

namespace parley::connect {
namespace {

Frame F(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

TEST(OutboundQueue, FifoWithByteCount) {
  OutboundQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  q.Push(F("aa"));
  q.Push(F("bbb"));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.bytes(), 5u);
  EXPECT_EQ(*q.Front(), "aa");
  q.PopFront();
  EXPECT_EQ(*q.Front(), "bbb");
  EXPECT_EQ(q.bytes(), 3u);
  q.PopFront();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(OutboundQueue, InterleavedPushPopKeepsOrder) {
  OutboundQueue q;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 100; ++round) {
    for (int k = 0; k < 7; ++k) q.Push(F(std::to_string(next_in++)));
    for (int k = 0; k < 5; ++k) {
      ASSERT_EQ(*q.Front(), std::to_string(next_out++));
      q.PopFront();
    }
  }
  while (!q.empty()) {
    ASSERT_EQ(*q.Front(), std::to_string(next_out++));
    q.PopFront();
  }
  EXPECT_EQ(next_out, next_in);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(OutboundQueue, PushFront) {
  OutboundQueue q;
  q.PushFront(F("b"));
  q.Push(F("c"));
  q.PushFront(F("a"));
  EXPECT_EQ(q.bytes(), 3u);
  q.Push(F("d"));
  q.PopFront();
  q.PushFront(F("A"));  // reuses the slot before the head
  std::string order;
  while (!q.empty()) {
    order += *q.Front();
    q.PopFront();
  }
  EXPECT_EQ(order, "Abcd");
}

TEST(OutboundQueue, ClearKeepsTheFrameInFlight) {
  OutboundQueue q;
  Frame first = F("first");
  q.Push(first);
  q.Push(F("second"));
  q.Push(F("third"));
  q.Clear(/*keep_front=*/true);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q.Front(), first);
  EXPECT_EQ(q.bytes(), 5u);
  q.Clear(/*keep_front=*/false);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  q.Clear(true);  // empty: a no-op
  EXPECT_TRUE(q.empty());
}

TEST(OutboundQueue, SharedFramesAreNotCopied) {
  Frame shared = F(std::string(1000, 'x'));
  OutboundQueue a, b;
  a.Push(shared);
  b.Push(shared);
  EXPECT_EQ(a.Front().get(), b.Front().get());
  EXPECT_EQ(shared.use_count(), 3);
  a.PopFront();
  b.Clear(false);
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(OutboundQueue, KeepsTheNodesTotalOfQueuedBytes) {
  std::atomic<int64_t> total{0};
  {
    OutboundQueue a(&total), b(&total);
    a.Push(F("12345"));
    a.PushFront(F("123"));
    b.Push(F("1234567"));
    EXPECT_EQ(total.load(), 15);
    a.PopFront();
    EXPECT_EQ(total.load(), 12);
    a.Push(F("xx"));
    a.Clear(/*keep_front=*/true);
    EXPECT_EQ(total.load(), 12) << "the frame being written still counts";
    a.Clear(/*keep_front=*/false);
    EXPECT_EQ(total.load(), 7);
  }
  EXPECT_EQ(total.load(), 0) << "a queue destroyed with frames gives their bytes back";
}

}  // namespace
}  // namespace parley::connect

#include "queue/redis/stream_offset.h"

#include <gtest/gtest.h>

namespace parley::queue {
namespace {

TEST(StreamOffsetTest, RoundTripsAndOrdersAlongAPartition) {
  for (uint32_t p : {0u, 1u, 1023u}) {
    for (uint64_t n : {uint64_t{1}, uint64_t{2}, uint64_t{1} << 40, kMaxEntryNumber}) {
      auto offset = EncodeOffset({p, n});
      ASSERT_TRUE(offset.has_value());
      EXPECT_EQ(DecodeOffset(*offset), (StreamPosition{p, n}));
    }
    EXPECT_LT(*EncodeOffset({p, 7}), *EncodeOffset({p, 8}));
  }
  EXPECT_FALSE(EncodeOffset({0, 0}).has_value());
  EXPECT_FALSE(EncodeOffset({1024, 1}).has_value());
  EXPECT_FALSE(EncodeOffset({0, kMaxEntryNumber + 1}).has_value());
  EXPECT_FALSE(DecodeOffset(0).has_value());
  EXPECT_FALSE(DecodeOffset(5).has_value());  // partition 5, entry 0
}

TEST(StreamOffsetTest, ParsesOnlyTheLogsOwnIds) {
  EXPECT_EQ(ParseEntryId("0-1"), 1u);
  EXPECT_EQ(ParseEntryId("0-18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(EntryId(42), "0-42");
  for (const char* bad : {"", "0-0", "1-1", "0-", "0-x", "0-1x", "1700000000000-0"}) {
    EXPECT_FALSE(ParseEntryId(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace parley::queue

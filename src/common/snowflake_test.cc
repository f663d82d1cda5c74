#include "common/snowflake.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(Snowflake, EncodesTimeNodeAndSequence) {
  ManualClock clock(kSnowflakeEpochMs + 1000);
  SnowflakeGenerator gen(clock, 5);
  uint64_t id = gen.Next();
  EXPECT_EQ(SnowflakeGenerator::TimestampMs(id), kSnowflakeEpochMs + 1000);
  EXPECT_EQ(SnowflakeGenerator::NodeId(id), 5u);
  EXPECT_EQ(id & 0xfff, 0u);
  EXPECT_EQ(gen.Next() & 0xfff, 1u);
}

TEST(Snowflake, StrictlyIncreasingWhenTheMillisecondRunsOut) {
  ManualClock clock(kSnowflakeEpochMs + 1000);
  SnowflakeGenerator gen(clock, 1);
  uint64_t prev = gen.Next();
  for (int i = 0; i < 10000; ++i) {
    uint64_t id = gen.Next();
    ASSERT_GT(id, prev);
    prev = id;
  }
  // 10,001 ids in one millisecond borrowed from the next ones.
  EXPECT_GT(SnowflakeGenerator::TimestampMs(prev), kSnowflakeEpochMs + 1000);
}

TEST(Snowflake, StrictlyIncreasingWhenTheClockStepsBack) {
  ManualClock clock(kSnowflakeEpochMs + 5000);
  SnowflakeGenerator gen(clock, 1);
  uint64_t before = gen.Next();
  clock.AdvanceMs(-2000);
  EXPECT_GT(gen.Next(), before);
}

TEST(Snowflake, RejectsNodeIdsAbove1023) {
  ManualClock clock;
  EXPECT_THROW(SnowflakeGenerator(clock, 1024), std::invalid_argument);
}

}  // namespace
}  // namespace parley

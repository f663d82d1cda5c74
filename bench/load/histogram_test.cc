#include "load/histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

TEST(HistogramTest, BucketsCoverEveryValueWithinOnePercent) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{257},
                     uint64_t{511}, uint64_t{512}, uint64_t{1'000'000}, uint64_t{123'456'789},
                     ~uint64_t{0} >> 1, ~uint64_t{0}}) {
    int b = Histogram::BucketOf(v);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, Histogram::kBuckets);
    EXPECT_LE(Histogram::BucketLow(b), v) << v;
    EXPECT_GE(Histogram::BucketHigh(b), v) << v;
    double width = static_cast<double>(Histogram::BucketHigh(b) - Histogram::BucketLow(b));
    EXPECT_LE(width / 2, std::max(0.01 * static_cast<double>(v), 0.5)) << v;
  }
}

TEST(HistogramTest, BucketsAreContiguous) {
  for (int b = 1; b < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::BucketLow(b), Histogram::BucketHigh(b - 1) + 1) << b;
  }
}

TEST(HistogramTest, QuantilesMatchSortedSampleWithinOnePercent) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(13, 1.5);  // ~0.4 ms median, long tail
  std::vector<int64_t> values;
  Histogram h;
  for (int i = 0; i < 200'000; ++i) {
    int64_t v = static_cast<int64_t>(dist(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    int64_t exact = values[static_cast<size_t>(std::ceil(q * values.size())) - 1];
    int64_t got = h.Quantile(q);
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(exact), 0.01 * exact) << q;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.Quantile(1.0), values.back());
}

TEST(HistogramTest, MergeAddsCounts) {
  Histogram a, b;
  for (int i = 1; i <= 100; ++i) a.Record(i * 1000);
  for (int i = 101; i <= 200; ++i) b.Record(i * 1000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 200u);
  EXPECT_EQ(a.max(), 200'000);
  EXPECT_EQ(a.min(), 1000);
  EXPECT_NEAR(a.Quantile(0.5), 100'000, 1000);
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.Quantile(0.5), 0);
}

}  // namespace
}  // namespace parley::bench

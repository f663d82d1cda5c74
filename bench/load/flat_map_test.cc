#include "load/flat_map.h"

#include <random>
#include <unordered_map>

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

TEST(FlatMapTest, AgreesWithUnorderedMapThroughGrowth) {
  FlatMap m(2);
  std::unordered_map<uint64_t, uint64_t> ref;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100'000; ++i) {
    uint64_t k = rng() % 20'000;
    m[k] += i;
    ref[k] += i;
  }
  EXPECT_EQ(m.size(), ref.size());
  for (auto& [k, v] : ref) {
    const uint64_t* got = m.Find(k);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, v);
  }
  EXPECT_EQ(m.Find(1'000'000), nullptr);
  size_t n = 0;
  m.ForEach([&](uint64_t k, uint64_t v) {
    EXPECT_EQ(ref.at(k), v);
    ++n;
  });
  EXPECT_EQ(n, ref.size());
}

}  // namespace
}  // namespace parley::bench

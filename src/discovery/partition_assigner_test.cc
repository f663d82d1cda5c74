// AssignPartitions: deterministic, balanced, and moving only a joining or
// leaving node's share.
#include "discovery/partition_assigner.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace parley::discovery {
namespace {

std::vector<std::string> NodeIds(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("task-" + std::to_string(i));
  return out;
}

std::map<std::string, size_t> Counts(const std::vector<std::string>& owners) {
  std::map<std::string, size_t> out;
  for (const auto& o : owners) ++out[o];
  return out;
}

size_t Moved(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t moved = 0;
  for (size_t p = 0; p < a.size(); ++p) moved += a[p] != b[p];
  return moved;
}

TEST(PartitionAssignerTest, EveryPartitionGetsAListedOwner) {
  auto nodes = NodeIds(3);
  auto owners = AssignPartitions(64, nodes, kDefaultVnodesPerNode);
  ASSERT_EQ(owners.size(), 64u);
  for (const auto& o : owners) EXPECT_NE(std::find(nodes.begin(), nodes.end(), o), nodes.end());
  EXPECT_TRUE(AssignPartitions(64, {}, 128).empty());
  EXPECT_TRUE(AssignPartitions(0, nodes, 128).empty());
  // One node owns everything.
  for (const auto& o : AssignPartitions(16, {"solo"}, 128)) EXPECT_EQ(o, "solo");
}

TEST(PartitionAssignerTest, IndependentOfInputOrderAndDuplicates) {
  auto nodes = NodeIds(6);
  auto expected = AssignPartitions(256, nodes, kDefaultVnodesPerNode);
  std::mt19937 rng(7);
  for (int i = 0; i < 5; ++i) {
    auto shuffled = nodes;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    shuffled.push_back(shuffled.front());  // a duplicate changes nothing
    EXPECT_EQ(AssignPartitions(256, shuffled, kDefaultVnodesPerNode), expected);
  }
}

TEST(PartitionAssignerTest, FixedAnswerAcrossBuilds) {
  // Pinned: every task node must compute the same owners, so a change of the
  // hash (which would split nodes running different builds) fails here first.
  EXPECT_EQ(AssignPartitions(8, {"a", "b", "c"}, 16),
            (std::vector<std::string>{"c", "b", "b", "a", "a", "b", "a", "a"}));
}

TEST(PartitionAssignerTest, BalancedWithinToleranceFor2To8Nodes) {
  constexpr uint32_t kPartitions = 4096;
  for (size_t n = 2; n <= 8; ++n) {
    auto counts = Counts(AssignPartitions(kPartitions, NodeIds(n), kDefaultVnodesPerNode));
    ASSERT_EQ(counts.size(), n);
    const double even = double(kPartitions) / double(n);
    for (const auto& [node, count] : counts) {
      EXPECT_NEAR(double(count), even, 0.2 * even) << n << " nodes, " << node;
    }
  }
}

TEST(PartitionAssignerTest, SmallPartitionCountsStillReachEveryNode) {
  // The task tier's case: 16 partitions over 2..4 nodes.
  for (size_t n = 2; n <= 4; ++n) {
    auto counts = Counts(AssignPartitions(16, NodeIds(n), kDefaultVnodesPerNode));
    EXPECT_EQ(counts.size(), n) << n << " nodes";
    for (const auto& [node, count] : counts) {
      EXPECT_LE(count, 16 / n * 2) << n << " nodes, " << node;
    }
  }
}

TEST(PartitionAssignerTest, AJoiningNodeTakesOnlyItsShareAndOnlyForItself) {
  constexpr uint32_t kPartitions = 4096;
  for (size_t n = 2; n <= 8; ++n) {
    auto before = AssignPartitions(kPartitions, NodeIds(n), kDefaultVnodesPerNode);
    auto after = AssignPartitions(kPartitions, NodeIds(n + 1), kDefaultVnodesPerNode);
    const std::string joined = "task-" + std::to_string(n);
    for (size_t p = 0; p < kPartitions; ++p) {
      if (before[p] != after[p]) {
        ASSERT_EQ(after[p], joined) << "partition " << p;
      }
    }
    const double share = double(kPartitions) / double(n + 1);
    EXPECT_LE(double(Moved(before, after)), 1.3 * share) << n << " -> " << n + 1;
    EXPECT_GE(double(Moved(before, after)), 0.7 * share) << n << " -> " << n + 1;
  }
}

TEST(PartitionAssignerTest, ALeavingNodeHandsOnOnlyItsOwnPartitions) {
  constexpr uint32_t kPartitions = 4096;
  for (size_t n = 3; n <= 8; ++n) {
    auto nodes = NodeIds(n);
    auto before = AssignPartitions(kPartitions, nodes, kDefaultVnodesPerNode);
    const std::string left = nodes[1];
    nodes.erase(nodes.begin() + 1);
    auto after = AssignPartitions(kPartitions, nodes, kDefaultVnodesPerNode);
    for (size_t p = 0; p < kPartitions; ++p) {
      if (before[p] != after[p]) {
        ASSERT_EQ(before[p], left) << "partition " << p;
      }
    }
    EXPECT_EQ(Moved(before, after), Counts(before)[left]);
    EXPECT_LE(double(Moved(before, after)), 1.3 * double(kPartitions) / double(n));
    // The leaver's partitions spread over the others, not onto one of them.
    std::set<std::string> heirs;
    for (size_t p = 0; p < kPartitions; ++p) {
      if (before[p] == left) heirs.insert(after[p]);
    }
    EXPECT_GE(heirs.size(), std::min<size_t>(n - 1, 2));
  }
}

TEST(PartitionAssignerTest, VnodesAreClamped) {
  auto zero = AssignPartitions(32, NodeIds(3), 0);
  EXPECT_EQ(zero, AssignPartitions(32, NodeIds(3), 1));
  auto huge = AssignPartitions(32, NodeIds(2), 1u << 30);
  EXPECT_EQ(huge, AssignPartitions(32, NodeIds(2), kMaxVnodesPerNode));
}

}  // namespace
}  // namespace parley::discovery

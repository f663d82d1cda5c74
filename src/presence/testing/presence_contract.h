// The Presence contract (presence/presence.h) as a typed test suite, written
// once and run against every implementation.
//
// To run it against an implementation, write a harness and instantiate the
// suite with it in one test source of your room (link parley_presence_testing):
//
//   struct MemoryPresenceHarness {
//     presence::Presence& presence() { return impl; }
//     presence::MemoryPresence impl;
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Memory, PresenceContract, MemoryPresenceHarness);
//
// A harness is default-constructible; each test constructs one, uses only
// presence(), and destroys it. presence() must start empty (no connection of
// any user or node), so a harness over a shared server gives each instance
// its own key space, and removes it on destruction.
#pragma once

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "presence/presence.h"
#include "support/test_util.h"

namespace parley::presence {

inline void PrintTo(const Connection& c, std::ostream* os) {
  *os << "{user " << c.user_id << " on " << c.node_id << "@" << c.node_epoch << " conn "
      << c.conn_id << "}";
}

template <typename Harness>
class PresenceContract : public ::testing::Test {
 protected:
  using Reply = std::vector<std::vector<Connection>>;

  static Connection Conn(uint64_t user, std::string node, uint64_t epoch, uint64_t conn) {
    return {.user_id = user, .node_id = std::move(node), .node_epoch = epoch, .conn_id = conn};
  }
  // Lookup answers in no particular order; tests compare sorted lists.
  static std::vector<Connection> Sorted(std::vector<Connection> v) {
    std::sort(v.begin(), v.end(), [](const Connection& a, const Connection& b) {
      return std::tie(a.user_id, a.node_id, a.node_epoch, a.conn_id) <
             std::tie(b.user_id, b.node_id, b.node_epoch, b.conn_id);
    });
    return v;
  }

  Presence& presence() { return harness_.presence(); }

  Status Add(Connection c) {
    return testing::Wait<Status>([&](auto cb) { presence().Add(std::move(c), cb); });
  }
  Status Remove(Connection c) {
    return testing::Wait<Status>([&](auto cb) { presence().Remove(std::move(c), cb); });
  }
  Status RemoveNode(std::string node, uint64_t epoch) {
    return testing::Wait<Status>(
        [&](auto cb) { presence().RemoveNode(std::move(node), epoch, cb); });
  }
  Reply Lookup(std::vector<uint64_t> users) {
    size_t n = users.size();
    auto r =
        testing::Wait<StatusOr<Reply>>([&](auto cb) { presence().Lookup(std::move(users), cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return Reply(n);
    EXPECT_EQ(r->size(), n) << "one answer per user asked about";
    return std::move(r).value();
  }
  std::vector<Connection> ConnsOf(uint64_t user) { return Sorted(Lookup({user}).at(0)); }

  Harness harness_;
};

TYPED_TEST_SUITE_P(PresenceContract);

TYPED_TEST_P(PresenceContract, AnAddedConnectionIsSeenByLookupUntilRemoved) {
  auto c = this->Conn(7, "n1", 1, 100);
  EXPECT_TRUE(this->ConnsOf(7).empty());
  ASSERT_OK(this->Add(c));
  EXPECT_EQ(this->ConnsOf(7), std::vector{c});
  ASSERT_OK(this->Remove(c));
  EXPECT_TRUE(this->ConnsOf(7).empty());
}

TYPED_TEST_P(PresenceContract, RemoveForgetsOnlyThatConnection) {
  auto a = this->Conn(7, "n1", 1, 100);
  auto b = this->Conn(7, "n1", 1, 101);
  ASSERT_OK(this->Add(a));
  ASSERT_OK(this->Add(b));
  ASSERT_OK(this->Remove(a));
  EXPECT_EQ(this->ConnsOf(7), std::vector{b});
}

TYPED_TEST_P(PresenceContract, AddingTheSameConnectionTwiceKeepsOneRecord) {
  auto c = this->Conn(7, "n1", 1, 100);
  ASSERT_OK(this->Add(c));
  ASSERT_OK(this->Add(c));
  EXPECT_EQ(this->ConnsOf(7), std::vector{c});
  ASSERT_OK(this->Remove(c));
  EXPECT_TRUE(this->ConnsOf(7).empty());
}

TYPED_TEST_P(PresenceContract, RemovingAConnectionNotRecordedIsOkAndChangesNothing) {
  ASSERT_OK(this->Remove(this->Conn(7, "n1", 1, 100)));
  auto c = this->Conn(7, "n1", 1, 100);
  ASSERT_OK(this->Add(c));
  // Each differs from `c` in one field only.
  ASSERT_OK(this->Remove(this->Conn(8, "n1", 1, 100)));
  ASSERT_OK(this->Remove(this->Conn(7, "n2", 1, 100)));
  ASSERT_OK(this->Remove(this->Conn(7, "n1", 2, 100)));
  ASSERT_OK(this->Remove(this->Conn(7, "n1", 1, 101)));
  EXPECT_EQ(this->ConnsOf(7), std::vector{c});
}

TYPED_TEST_P(PresenceContract, LookupOfNoUsersAnswersEmpty) {
  EXPECT_TRUE(this->Lookup({}).empty());
}

TYPED_TEST_P(PresenceContract, LookupAnswersManyUsersInTheOrderAskedWithOfflineUsersEmpty) {
  // Users 1..90: every third is online, with (user % 4 + 1) connections.
  for (uint64_t u = 3; u <= 90; u += 3) {
    for (uint64_t k = 0; k <= u % 4; ++k) ASSERT_OK(this->Add(this->Conn(u, "n1", 1, u * 10 + k)));
  }
  std::vector<uint64_t> asked;
  for (uint64_t u = 90; u >= 1; --u) asked.push_back(u);
  asked.push_back(1'000'000);  // never seen
  asked.push_back(9);          // asked twice: answered in both places
  auto reply = this->Lookup(asked);
  ASSERT_EQ(reply.size(), asked.size());
  for (size_t i = 0; i < asked.size(); ++i) {
    uint64_t u = asked[i];
    std::vector<Connection> want;
    if (u <= 90 && u % 3 == 0) {
      for (uint64_t k = 0; k <= u % 4; ++k) want.push_back(this->Conn(u, "n1", 1, u * 10 + k));
    }
    EXPECT_EQ(this->Sorted(reply[i]), want) << "user " << u << " at " << i;
  }
}

TYPED_TEST_P(PresenceContract, AUserMayHoldSeveralConnectionsOnSeveralNodes) {
  std::vector<Connection> conns = {
      this->Conn(7, "n1", 1, 1), this->Conn(7, "n1", 1, 2),
      this->Conn(7, "n2", 5, 1),  // same conn id as on n1: a different connection
      this->Conn(7, "n3", 9, 4)};
  for (const auto& c : conns) ASSERT_OK(this->Add(c));
  EXPECT_EQ(this->ConnsOf(7), this->Sorted(conns));
}

TYPED_TEST_P(PresenceContract, RemoveNodeDropsThatNodesConnectionsUpToTheEpochOnly) {
  auto n1e1 = this->Conn(7, "n1", 1, 1);
  auto n1e2 = this->Conn(7, "n1", 2, 2);
  auto n1e3 = this->Conn(7, "n1", 3, 3);   // a later incarnation: kept
  auto n10 = this->Conn(7, "n10", 1, 4);   // another node whose id starts alike: kept
  auto n2 = this->Conn(7, "n2", 1, 5);     // another node: kept
  auto other = this->Conn(8, "n1", 1, 6);  // another user on the node: dropped
  for (const auto& c : {n1e1, n1e2, n1e3, n10, n2, other}) ASSERT_OK(this->Add(c));

  ASSERT_OK(this->RemoveNode("n1", 2));
  auto reply = this->Lookup({7, 8});
  EXPECT_EQ(this->Sorted(reply[0]), this->Sorted({n1e3, n10, n2}));
  EXPECT_TRUE(reply[1].empty());
}

TYPED_TEST_P(PresenceContract, RemoveNodeOfAnUnknownNodeIsOk) {
  auto c = this->Conn(7, "n1", 1, 1);
  ASSERT_OK(this->Add(c));
  ASSERT_OK(this->RemoveNode("n9", 100));
  ASSERT_OK(this->RemoveNode("n1", 0));  // older than anything recorded
  EXPECT_EQ(this->ConnsOf(7), std::vector{c});
}

TYPED_TEST_P(PresenceContract, ANodeBackAsALaterEpochRecordsAgain) {
  ASSERT_OK(this->Add(this->Conn(7, "n1", 1, 1)));
  ASSERT_OK(this->RemoveNode("n1", 1));
  auto back = this->Conn(7, "n1", 2, 1);
  ASSERT_OK(this->Add(back));
  EXPECT_EQ(this->ConnsOf(7), std::vector{back});
}

TYPED_TEST_P(PresenceContract, ConcurrentAddsAndRemovesFromThreadsAllTakeEffect) {
  constexpr uint64_t kThreads = 4, kUsers = 20, kConnsPerUser = 10;
  // Threads write to two nodes.
  auto node_of = [](uint64_t thread) { return std::string(thread % 2 == 0 ? "n0" : "n1"); };
  auto shared = this->Conn(1, "shared", 1, 1);
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, shared, node = node_of(t)] {
      // Every thread adds the same connection: one record remains.
      EXPECT_OK(this->Add(shared));
      for (uint64_t u = 1; u <= kUsers; ++u) {
        for (uint64_t k = 0; k < kConnsPerUser; ++k) {
          EXPECT_OK(this->Add(this->Conn(u, node, 1, t * 100 + k)));
        }
        for (uint64_t k = 1; k < kConnsPerUser; k += 2) {
          EXPECT_OK(this->Remove(this->Conn(u, node, 1, t * 100 + k)));
        }
        this->Lookup({u, u + 1, u + 2});  // reads race with the writes; sizes checked
      }
    });
  }
  for (auto& th : threads) th.join();

  std::vector<uint64_t> users;
  for (uint64_t u = 1; u <= kUsers; ++u) users.push_back(u);
  auto reply = this->Lookup(users);
  for (uint64_t u = 1; u <= kUsers; ++u) {
    std::vector<Connection> want;
    if (u == shared.user_id) want.push_back(shared);
    for (uint64_t t = 0; t < kThreads; ++t) {
      for (uint64_t k = 0; k < kConnsPerUser; k += 2) {
        want.push_back(this->Conn(u, node_of(t), 1, t * 100 + k));
      }
    }
    EXPECT_EQ(this->Sorted(reply[u - 1]), this->Sorted(want)) << "user " << u;
  }
}

REGISTER_TYPED_TEST_SUITE_P(
    PresenceContract, AnAddedConnectionIsSeenByLookupUntilRemoved, RemoveForgetsOnlyThatConnection,
    AddingTheSameConnectionTwiceKeepsOneRecord, RemovingAConnectionNotRecordedIsOkAndChangesNothing,
    LookupOfNoUsersAnswersEmpty, LookupAnswersManyUsersInTheOrderAskedWithOfflineUsersEmpty,
    AUserMayHoldSeveralConnectionsOnSeveralNodes,
    RemoveNodeDropsThatNodesConnectionsUpToTheEpochOnly, RemoveNodeOfAnUnknownNodeIsOk,
    ANodeBackAsALaterEpochRecordsAgain, ConcurrentAddsAndRemovesFromThreadsAllTakeEffect);

}  // namespace parley::presence

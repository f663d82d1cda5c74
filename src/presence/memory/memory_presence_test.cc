// MemoryPresence runs the Presence contract suite; beyond it, its calls
// complete inline.
#include "presence/memory/memory_presence.h"

#include <gtest/gtest.h>

#include "presence/testing/presence_contract.h"

namespace parley::presence {
namespace {

struct MemoryPresenceHarness {
  Presence& presence() { return impl; }
  MemoryPresence impl;
};
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, PresenceContract, MemoryPresenceHarness);

TEST(MemoryPresence, EveryCallCompletesBeforeReturning) {
  MemoryPresence p;
  int done = 0;
  p.Add({.user_id = 7, .node_id = "n1", .node_epoch = 1, .conn_id = 1},
        [&](Status s) { done += s.ok(); });
  p.Lookup({7}, [&](StatusOr<std::vector<std::vector<Connection>>> r) {
    done += r.ok() && r->at(0).size() == 1;
  });
  p.Remove({.user_id = 7, .node_id = "n1", .node_epoch = 1, .conn_id = 1},
           [&](Status s) { done += s.ok(); });
  p.RemoveNode("n1", 1, [&](Status s) { done += s.ok(); });
  EXPECT_EQ(done, 4);
}

TEST(MemoryPresence, CallbacksRunOutsideTheLockSoTheyMayCallBackIn) {
  MemoryPresence p;
  bool looked_up = false;
  p.Add({.user_id = 7, .node_id = "n1", .node_epoch = 1, .conn_id = 1}, [&](Status) {
    p.Lookup({7}, [&](StatusOr<std::vector<std::vector<Connection>>> r) {
      looked_up = r.ok() && r->at(0).size() == 1;
    });
  });
  EXPECT_TRUE(looked_up);
}

}  // namespace
}  // namespace parley::presence

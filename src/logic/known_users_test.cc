#include "logic/known_users.h"

#include <gtest/gtest.h>

#include "logic/logic_test_world.h"

namespace parley::logic {
namespace {

TEST(KnownUsersTest, IsBoundedAndForgetsWhenFull) {
  KnownUsers known(3);
  for (uint64_t u = 1; u <= 100; ++u) {
    known.insert(u);
    EXPECT_LE(known.size(), 3u);
  }
  EXPECT_TRUE(known.contains(100));
  EXPECT_FALSE(known.contains(1));
  KnownUsers none(0);
  none.insert(1);
  EXPECT_FALSE(none.contains(1));
}

TEST(KnownUsersTest, ChecksStayRightWhenTheSetKeepsForgetting) {
  Options o = testing::TestOptions();
  o.storage.known_users_cache_max = 1;
  testing::LogicWorld w(o);
  w.Register("alice");
  uint64_t b = w.Register("bob"), c = w.Register("carol");
  CallContext as_a = w.Login("alice");
  for (uint64_t to : {b, c, b, c}) {
    EXPECT_EQ(w.Send(as_a, "k" + std::to_string(to) + std::to_string(w.clock().NowMs()), to, "hi")
                  .error()
                  .code(),
              rpc::OK);
    w.clock().AdvanceMs(1);
  }
  EXPECT_EQ(w.Send(as_a, "nobody", 999'999, "hi").error().code(), rpc::NOT_FOUND);
}

}  // namespace
}  // namespace parley::logic

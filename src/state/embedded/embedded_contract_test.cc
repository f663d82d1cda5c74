// The state seams' contract suites, run against the embedded
// implementations. In one process every logic facade shares one object per
// seam, so both "nodes" of a suite are that object.
#include <memory>

#include "state/embedded/cached_group_directory.h"
#include "state/embedded/cached_session_store.h"
#include "state/embedded/embedded_auth_rate_limits.h"
#include "state/embedded/embedded_idempotency_store.h"
#include "state/embedded/memory_recent_window.h"
#include "state/embedded/memory_sequence_allocator.h"
#include "state/testing/auth_rate_limits_contract.h"
#include "state/testing/group_directory_contract.h"
#include "state/testing/idempotency_store_contract.h"
#include "state/testing/recent_window_contract.h"
#include "state/testing/sequence_allocator_contract.h"
#include "state/testing/session_store_contract.h"
#include "store/sqlite/sqlite_store.h"

namespace parley::state {
namespace {

using parley::testing::Wait;

// A fresh SQLite store in a temp dir, with four users.
class StoreFixture {
 public:
  StoreFixture() {
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/s.db", options_.storage)).value();
    for (int i = 0; i < 4; ++i) {
      auto u = Wait<StatusOr<store::UserRecord>>(
          [&](auto cb) { store_->CreateUser("user" + std::to_string(i), "hash", 1, cb); });
      users_.push_back(u->user_id);
    }
  }
  store::Store& store() { return *store_; }
  uint64_t User(int i) { return users_.at(i); }

 private:
  parley::testing::TempDir dir_;
  Options options_;
  std::unique_ptr<store::SqliteStore> store_;
  std::vector<uint64_t> users_;
};

struct MemorySequenceAllocatorFactory {
  SequenceAllocator& Node(int) { return allocator; }
  MemorySequenceAllocator allocator;
};

struct MemoryRecentWindowFactory {
  static constexpr size_t kConvMaxBytes = 16 * 1024;
  RecentWindow& Node(int) { return window; }
  MemoryRecentWindow window{256, 1000, kConvMaxBytes};
};

struct EmbeddedIdempotencyStoreFactory {
  IdempotencyStore& Node(int) { return records; }
  StoreFixture store;
  EmbeddedIdempotencyStore records{store.store(), 24LL * 3600 * 1000, 1000};
};

struct CachedSessionStoreFactory {
  SessionStore& Node(int) { return sessions; }
  uint64_t User(int i) { return store.User(i); }
  store::SlowSessionLookups& backing() { return slow; }
  StoreFixture store;
  store::SlowSessionLookups slow{&store.store()};
  CachedSessionStore sessions{slow, 1000};
};

struct CachedGroupDirectoryFactory {
  GroupDirectory& Node(int) { return groups; }
  uint64_t User(int i) { return store.User(i); }
  StoreFixture store;
  CachedGroupDirectory groups{store.store(), 1000};
};

struct EmbeddedAuthRateLimitsFactory {
  AuthRateLimits& Node(int) { return limits; }
  SystemClock clock;
  EmbeddedAuthRateLimits limits{clock, testing::AuthRateLimitsContractRates()};
};

// Beyond the contract: the group cache's byte bound holds whatever the
// groups weigh, and a group is served the same whether it was cached or not.
TEST(CachedGroupDirectoryTest, CachedGroupsStayWithinTheByteBound) {
  StoreFixture store;
  constexpr size_t kMaxBytes = 2000;
  CachedGroupDirectory groups{store.store(), 1000, kMaxBytes};
  std::vector<uint64_t> ids;
  for (int i = 0; i < 20; ++i) {
    auto g = Wait<StatusOr<GroupPtr>>([&](auto cb) {
      groups.Create("g" + std::to_string(i), store.User(0), {store.User(1), store.User(2)}, 1, {},
                    cb);
    });
    ASSERT_TRUE(g.ok()) << g.status().message();
    ids.push_back((*g)->group_id());
  }
  for (int round = 0; round < 2; ++round) {
    for (uint64_t id : ids) {
      auto g = Wait<StatusOr<GroupPtr>>([&](auto cb) { groups.Get(id, cb); });
      ASSERT_TRUE(g.ok());
      EXPECT_EQ((*g)->members_size(), 3);
      EXPECT_LE(groups.cached_bytes(), kMaxBytes);
    }
  }
  EXPECT_GT(groups.cached_bytes(), 0u) << "some groups are cached";
}

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, SequenceAllocatorContract, MemorySequenceAllocatorFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Embedded, IdempotencyStoreContract, EmbeddedIdempotencyStoreFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, RecentWindowContract, MemoryRecentWindowFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Cached, SessionStoreContract, CachedSessionStoreFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Cached, GroupDirectoryContract, CachedGroupDirectoryFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Embedded, AuthRateLimitsContract, EmbeddedAuthRateLimitsFactory);
}  // namespace testing

}  // namespace parley::state

// The state seams' contract suites, run against the Redis implementations on
// a real redis-server. The two "nodes" of a suite are two instances, each
// with state of its own, as two logic processes would have.
#include "state/redis/redis_auth_rate_limits.h"
#include "state/redis/redis_group_directory.h"
#include "state/redis/redis_idempotency_store.h"
#include "state/redis/redis_recent_window.h"
#include "state/redis/redis_sequence_allocator.h"
#include "state/redis/redis_session_store.h"
#include "state/redis/redis_test_env.h"
#include "state/testing/auth_rate_limits_contract.h"
#include "state/testing/group_directory_contract.h"
#include "state/testing/idempotency_store_contract.h"
#include "state/testing/recent_window_contract.h"
#include "state/testing/sequence_allocator_contract.h"
#include "state/testing/session_store_contract.h"

namespace parley::state {
namespace {

using testing::RedisTestEnv;

struct RedisSequenceAllocatorFactory {
  SequenceAllocator& Node(int i) { return i == 0 ? a : b; }
  RedisTestEnv env;
  RedisSequenceAllocator a{env.NewClient(), env.executor(), env.store(), env.Options("n0")};
  RedisSequenceAllocator b{env.NewClient(), env.executor(), env.store(), env.Options("n1")};
};

// The suite checks that claims of one key are served in the order they were
// made, by two nodes one right after the other: through one connection, so
// that they reach Redis in that order (through two, their order at Redis is
// a race the suite cannot control).
struct RedisIdempotencyStoreFactory {
  IdempotencyStore& Node(int i) { return i == 0 ? a : b; }
  RedisTestEnv env;
  std::shared_ptr<redis::RedisClient> client = env.NewClient();
  RedisIdempotencyStore a{client, env.executor(), env.Options("n0")};
  RedisIdempotencyStore b{client, env.executor(), env.Options("n1")};
};

struct RedisRecentWindowFactory {
  static constexpr size_t kConvMaxBytes = 16 * 1024;
  static RedisStateOptions Options(const std::string& node) {
    RedisStateOptions o = RedisTestEnv::Options(node);
    o.recent_conv_max_bytes = kConvMaxBytes;
    return o;
  }
  RecentWindow& Node(int i) { return i == 0 ? a : b; }
  RedisTestEnv env;
  RedisRecentWindow a{env.NewClient(), Options("n0")};
  RedisRecentWindow b{env.NewClient(), Options("n1")};
};

struct RedisSessionStoreFactory {
  SessionStore& Node(int i) { return i == 0 ? a : b; }
  uint64_t User(int i) { return env.User(i); }
  store::SlowSessionLookups& backing() { return slow; }
  RedisTestEnv env;
  store::SlowSessionLookups slow{&env.store()};
  RedisSessionStore a{env.NewClient(), slow, env.Options("n0")};
  RedisSessionStore b{env.NewClient(), slow, env.Options("n1")};
};

struct RedisGroupDirectoryFactory {
  GroupDirectory& Node(int i) { return i == 0 ? a : b; }
  uint64_t User(int i) { return env.User(i); }
  RedisTestEnv env;
  RedisGroupDirectory a{env.NewClient(), env.store(), env.Options("n0")};
  RedisGroupDirectory b{env.NewClient(), env.store(), env.Options("n1")};
};

struct RedisAuthRateLimitsFactory {
  AuthRateLimits& Node(int i) { return i == 0 ? a : b; }
  RedisTestEnv env;
  RedisAuthRateLimits a{env.NewClient(), env.Options("n0"), testing::AuthRateLimitsContractRates()};
  RedisAuthRateLimits b{env.NewClient(), env.Options("n1"), testing::AuthRateLimitsContractRates()};
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, SequenceAllocatorContract, RedisSequenceAllocatorFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, IdempotencyStoreContract, RedisIdempotencyStoreFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, RecentWindowContract, RedisRecentWindowFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, SessionStoreContract, RedisSessionStoreFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, GroupDirectoryContract, RedisGroupDirectoryFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, AuthRateLimitsContract, RedisAuthRateLimitsFactory);
}  // namespace testing

}  // namespace parley::state

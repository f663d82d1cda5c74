// Token-bucket rate limiting: one check per send, keyed by user.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "common/clock.h"
#include "common/rate_limiter.h"

namespace {

void BM_TokenBucketTryTake(benchmark::State& state) {
  parley::TokenBucket bucket(1e12, 0);
  int64_t now = 0;
  int64_t retry = 0;
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(bucket.TryTake(1e9, 1e12, now, &retry));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenBucketTryTake);

// A keyed limiter over `range(0)` active users, as on the send path.
void BM_KeyedRateLimiter(benchmark::State& state) {
  parley::SystemClock clock;
  parley::KeyedRateLimiter<uint64_t> limiter(clock, 1000, 2000);
  const uint64_t users = static_cast<uint64_t>(state.range(0));
  uint64_t user = 0;
  int64_t retry = 0;
  for (auto _ : state) {
    user = (user + 7919) % users;  // spread over the users
    benchmark::DoNotOptimize(limiter.TryTake(user + 1, &retry));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyedRateLimiter)->Arg(1000)->Arg(100000);

}  // namespace

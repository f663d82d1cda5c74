// Snowflake id generation: what every accepted message pays once.
#include <benchmark/benchmark.h>

#include "common/clock.h"
#include "common/snowflake.h"

namespace {

void BM_SnowflakeNext(benchmark::State& state) {
  parley::SystemClock clock;
  parley::SnowflakeGenerator gen(clock, 7);
  for (auto _ : state) benchmark::DoNotOptimize(gen.Next());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnowflakeNext);

// Past 4,096 ids in one millisecond the generator borrows from the next
// milliseconds: the cost of a burst, with the clock standing still.
void BM_SnowflakeNextBurst(benchmark::State& state) {
  parley::ManualClock clock;
  parley::SnowflakeGenerator gen(clock, 7);
  for (auto _ : state) benchmark::DoNotOptimize(gen.Next());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnowflakeNextBurst);

}  // namespace

// The idempotency check of every send: a miss, then the key pending, then
// the ack remembered; and the hit a resend gets.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "logic/idempotency_cache.h"

namespace {

parley::rpc::SendReply Ack(uint64_t i) {
  parley::rpc::SendReply r;
  r.set_msg_id(1'000'000 + i);
  r.set_conv("p:1:2");
  r.set_seq(i);
  r.set_ts(1'700'000'000'000);
  return r;
}

// A fresh send: build the key, miss, add pending, complete. The cache holds
// `range(0)` earlier keys, as after a busy day.
void BM_IdempotencyNewSend(benchmark::State& state) {
  parley::logic::IdempotencyCache cache(24LL * 3600 * 1000, std::max<int64_t>(state.range(0), 1));
  const uint64_t preload = static_cast<uint64_t>(state.range(0));
  for (uint64_t i = 0; i < preload; ++i) {
    std::string key = parley::logic::IdempotencyCache::Key(7, "pre" + std::to_string(i));
    cache.AddPending(key, 0);
    cache.Complete(key, Ack(i));
  }
  uint64_t i = 0;
  parley::rpc::SendReply out;
  for (auto _ : state) {
    std::string key = parley::logic::IdempotencyCache::Key(42, "c-" + std::to_string(i));
    auto found = cache.Find(key, &out, nullptr);
    benchmark::DoNotOptimize(found);
    cache.AddPending(key, 1);
    benchmark::DoNotOptimize(cache.Complete(key, Ack(i)));
    cache.Expire(1);  // as the logic strand does; holds the size at max_entries
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IdempotencyNewSend)->Arg(0)->Arg(1'000'000);

void BM_IdempotencyResendHit(benchmark::State& state) {
  parley::logic::IdempotencyCache cache(24LL * 3600 * 1000, 2'000'000);
  std::string key = parley::logic::IdempotencyCache::Key(42, "c-1");
  cache.AddPending(key, 0);
  cache.Complete(key, Ack(1));
  parley::rpc::SendReply out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Find(key, &out, nullptr));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IdempotencyResendHit);

}  // namespace

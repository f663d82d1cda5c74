// The idempotency check of every send, through the embedded IdempotencyStore
// (the seam every logic node shares): a fresh send claims its key and
// completes it; a resend gets the first ack. Memory answers both (the store
// behind it is only asked for keys memory may have forgotten).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <malloc.h>

#include "state/embedded/embedded_idempotency_store.h"
#include "store/sqlite/sqlite_store.h"

namespace {

namespace fs = std::filesystem;
using parley::state::SendKey;

parley::rpc::SendReply Ack(uint64_t i) {
  parley::rpc::SendReply r;
  r.set_msg_id(1'000'000 + i);
  r.set_conv("p:1:2");
  r.set_seq(i);
  r.set_ts(1'700'000'000'000);
  return r;
}

// A store the records never need to ask (nothing is evicted), in a temp dir.
class UnusedStore {
 public:
  UnusedStore() {
    std::string tmpl = (fs::temp_directory_path() / "parley-microbench-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    store_ = std::move(parley::store::SqliteStore::Open(dir_ + "/parley.db", {})).value();
  }
  ~UnusedStore() {
    store_.reset();
    fs::remove_all(dir_);
  }
  parley::store::Store& get() { return *store_; }

 private:
  std::string dir_;
  std::unique_ptr<parley::store::SqliteStore> store_;
};

void Complete(parley::state::IdempotencyStore& records, SendKey key, uint64_t i) {
  records.Complete({{std::move(key), Ack(i)}}, [](parley::Status) {});
}

// A fresh send: claim (a miss), then complete. The records hold `range(0)`
// earlier keys, as after a busy day.
void BM_IdempotencyNewSend(benchmark::State& state) {
  UnusedStore store;
  const uint64_t preload = static_cast<uint64_t>(state.range(0));
  // Room for every key the run makes: an evicted key would send claims to
  // the store (asynchronously, after this loop's callback is gone).
  parley::state::EmbeddedIdempotencyStore records(store.get(), 24LL * 3600 * 1000,
                                                  preload + 1'000'000);
  for (uint64_t i = 0; i < preload; ++i) {
    SendKey key{7, "pre" + std::to_string(i)};
    records.Claim(key, 0, [](auto) {});
    Complete(records, key, i);
  }
  uint64_t i = 0;
  for (auto _ : state) {
    SendKey key{42, "c-" + std::to_string(i)};
    bool owned = false;
    records.Claim(key, 1, [&](parley::StatusOr<parley::state::Claim> c) { owned = c->owned; });
    benchmark::DoNotOptimize(owned);
    Complete(records, std::move(key), i);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IdempotencyNewSend)->Arg(0)->Arg(1'000'000)->Iterations(1'000'000);

void BM_IdempotencyResendHit(benchmark::State& state) {
  UnusedStore store;
  parley::state::EmbeddedIdempotencyStore records(store.get(), 24LL * 3600 * 1000, 2'000'000);
  SendKey key{42, "c-1"};
  records.Claim(key, 0, [](auto) {});
  Complete(records, key, 1);
  for (auto _ : state) {
    uint64_t seq = 0;
    records.Claim(key, 1,
                  [&](parley::StatusOr<parley::state::Claim> c) { seq = c->first_ack.seq(); });
    benchmark::DoNotOptimize(seq);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IdempotencyResendHit);

// What one remembered send costs in memory: the heap grown by 200,000
// completed sends with realistic keys (a 36-character client id, as a UUID;
// a conversation between two seven-digit user ids), per record.
void BM_IdempotencyMemoryPerRecord(benchmark::State& state) {
  constexpr uint64_t kRecords = 200'000;
  for (auto _ : state) {
    UnusedStore store;
    size_t before = mallinfo2().uordblks;
    {
      parley::state::EmbeddedIdempotencyStore records(store.get(), 24LL * 3600 * 1000, 2'000'000);
      for (uint64_t i = 0; i < kRecords; ++i) {
        std::string id = "0b6e3a52-7f1c-4d2e-9a8b-" + std::to_string(100'000'000'000 + i);
        SendKey key{1'000'000 + i % 1000, std::move(id)};
        records.Claim(key, 1, [](auto) {});
        parley::rpc::SendReply ack = Ack(i);
        ack.set_conv("p:1000123:" + std::to_string(2'000'000 + i % 1000));
        records.Complete({{std::move(key), std::move(ack)}}, [](parley::Status) {});
      }
      state.counters["bytes_per_record"] =
          static_cast<double>(mallinfo2().uordblks - before) / kRecords;
    }
  }
}
BENCHMARK(BM_IdempotencyMemoryPerRecord)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

// Durable group commit: 1,000 messages into the embedded message log (the
// ack waits for it) and into the store (the persist consumer's batch), on
// the real SQLite files (WAL, synchronous=FULL) in a temp directory.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/options.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "store/sqlite/sqlite_store.h"

namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "parley-microbench-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const char* name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

// 1,000 messages over 100 private conversations, seqs continuing from `seq0`.
std::vector<parley::rpc::ChatMessage> Batch(uint64_t* next_id, uint64_t seq0) {
  std::vector<parley::rpc::ChatMessage> batch;
  batch.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    parley::rpc::ChatMessage m;
    uint64_t a = 1 + i % 100;
    m.set_msg_id((*next_id)++);
    m.set_conv(fmt::format("p:{}:{}", a, a + 1000));
    m.set_seq(seq0 + i / 100 + 1);
    m.set_from(a);
    m.set_to_user(a + 1000);
    m.set_body(std::string(100, 'x'));
    m.set_ts(1'700'000'000'000 + i);
    m.set_client_id(fmt::format("c{}", m.msg_id()));
    batch.push_back(std::move(m));
  }
  return batch;
}

void BM_LogAppend1000AsOneBatch(benchmark::State& state) {
  TempDir dir;
  parley::SystemClock clock;
  parley::StorageOptions options;
  auto log = parley::queue::SqliteMessageLog::Open(dir.File("log.db"), options, clock);
  if (!log.ok()) {
    state.SkipWithError(log.status().message().c_str());
    return;
  }
  uint64_t id = 1;
  uint64_t seq = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto batch = Batch(&id, seq);
    seq += 10;
    std::promise<parley::Status> done;
    state.ResumeTiming();
    (*log)->Append(std::move(batch), [&](parley::Status s) { done.set_value(std::move(s)); });
    parley::Status s = done.get_future().get();
    if (!s.ok()) state.SkipWithError(s.message().c_str());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_LogAppend1000AsOneBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

// 1,000 appends of one message each, queued at once: the writer thread
// group-commits whatever has queued up (the send path's situation).
void BM_LogAppend1000Singles(benchmark::State& state) {
  TempDir dir;
  parley::SystemClock clock;
  parley::StorageOptions options;
  auto log = parley::queue::SqliteMessageLog::Open(dir.File("log.db"), options, clock);
  if (!log.ok()) {
    state.SkipWithError(log.status().message().c_str());
    return;
  }
  uint64_t id = 1;
  uint64_t seq = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto batch = Batch(&id, seq);
    seq += 10;
    std::atomic<int> left{1000};
    std::promise<void> all;
    state.ResumeTiming();
    for (auto& m : batch) {
      std::vector<parley::rpc::ChatMessage> one;
      one.push_back(std::move(m));
      (*log)->Append(std::move(one), [&](parley::Status) {
        if (--left == 0) all.set_value();
      });
    }
    all.get_future().wait();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_LogAppend1000Singles)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StoreAppendMessages1000(benchmark::State& state) {
  TempDir dir;
  parley::StorageOptions options;
  auto store = parley::store::SqliteStore::Open(dir.File("parley.db"), options);
  if (!store.ok()) {
    state.SkipWithError(store.status().message().c_str());
    return;
  }
  uint64_t id = 1;
  uint64_t seq = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto batch = Batch(&id, seq);
    seq += 10;
    std::promise<parley::Status> done;
    state.ResumeTiming();
    (*store)->AppendMessages(std::move(batch),
                             [&](parley::Status s) { done.set_value(std::move(s)); });
    parley::Status s = done.get_future().get();
    if (!s.ok()) state.SkipWithError(s.message().c_str());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_StoreAppendMessages1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

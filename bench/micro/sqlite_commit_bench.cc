// Durable group commit: 1,000 messages into the embedded message log (the
// ack waits for it) and into the store (the persist consumer's batch), on
// the real SQLite files (WAL, synchronous=FULL) in a temp directory.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <random>
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

// Bytes this process passed to write calls so far (wchar of /proc/self/io).
uint64_t BytesWritten() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "wchar:") return value;
  }
  return 0;
}

// The load generator's p2p pattern: each message between two of 1,000 users
// picked at random, so nearly every message of a batch is in a conversation
// of its own and touches pages no other message of the batch does. Batches
// of range(0) messages (what the persist consumer hands the store at a few
// thousand messages a second, and its largest batch), 100,000 messages in
// all; written_kb_per_msg is what the process handed write(2) and pwrite(2)
// meanwhile (the WAL frames, and the checkpoints into the file).
void BM_StoreAppendRandomPairs(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  constexpr size_t kMessages = 100'000;
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    parley::StorageOptions options;
    // A batch that fills the writer's batch is committed at once, not lingered on.
    options.commit_batch_max = static_cast<uint32_t>(batch_size);
    auto store = parley::store::SqliteStore::Open(dir.File("parley.db"), options);
    if (!store.ok()) {
      state.SkipWithError(store.status().message().c_str());
      return;
    }
    std::mt19937_64 rng(7);
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> seqs;
    std::vector<std::vector<parley::rpc::ChatMessage>> batches(kMessages / batch_size);
    uint64_t id = 1;
    for (auto& batch : batches) {
      for (size_t i = 0; i < batch_size; ++i) {
        uint64_t from = 1'000'000 + rng() % 1000, to = 1'000'000 + rng() % 999;
        if (to >= from) ++to;
        auto& m = batch.emplace_back();
        m.set_msg_id(id++);
        m.set_conv(fmt::format("p:{}:{}", std::min(from, to), std::max(from, to)));
        m.set_seq(++seqs[{std::min(from, to), std::max(from, to)}]);
        m.set_from(from);
        m.set_to_user(to);
        m.set_body(std::string(100, 'x'));
        m.set_ts(1'700'000'000'000 + static_cast<int64_t>(id));
        m.set_client_id(fmt::format("c{}", m.msg_id()));
      }
    }
    const uint64_t written_before = BytesWritten();
    state.ResumeTiming();
    for (auto& batch : batches) {
      std::promise<parley::Status> done;
      (*store)->AppendMessages(std::move(batch),
                               [&](parley::Status s) { done.set_value(std::move(s)); });
      parley::Status s = done.get_future().get();
      if (!s.ok()) state.SkipWithError(s.message().c_str());
    }
    state.PauseTiming();
    state.counters["written_kb_per_msg"] =
        static_cast<double>(BytesWritten() - written_before) / 1024 / kMessages;
    store->reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
}
BENCHMARK(BM_StoreAppendRandomPairs)
    ->Arg(250)
    ->Arg(2048)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

// The logic tier's send path in-process, without the network: validate,
// rate-limit, check idempotency, assign msg_id (snowflake) and seq, append
// to the durable log, ack. 1,000 sends are submitted at once, as a busy
// connect tier would, and the benchmark waits for every ack. No connect node
// is attached, so nothing is pushed (push cost is the fan-out benchmark's).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "logic/logic.h"
#include "presence/memory/memory_presence.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "store/sqlite/sqlite_store.h"

namespace {

namespace fs = std::filesystem;

// A deployment with no connect node: every Find() is empty.
class NoConnectNodes final : public parley::connect::ConnectDirectory {
 public:
  parley::connect::ConnectService* Find(const std::string&) override { return nullptr; }
  std::vector<std::string> AllNodes() override { return {}; }
};

template <typename T, typename Start>
T Block(Start start) {
  std::promise<T> p;
  start([&](T v) { p.set_value(std::move(v)); });
  return p.get_future().get();
}

void BM_LogicSend1000(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);  // no per-registration log lines in the table
  std::string tmpl = (fs::temp_directory_path() / "parley-microbench-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  {
    parley::Options options;
    options.password_hash_cost = "min";
    options.rate.send_per_sec = 1e9;  // measure the path, not the limiter's refusals
    options.rate.send_burst = 1e9;
    parley::SystemClock clock;
    parley::Metrics metrics;
    auto store = parley::store::SqliteStore::Open(dir + "/parley.db", options.storage);
    auto log = parley::queue::SqliteMessageLog::Open(dir + "/log.db", options.storage, clock);
    if (!store.ok() || !log.ok()) {
      state.SkipWithError("cannot open the SQLite files");
      return;
    }
    parley::presence::MemoryPresence presence;
    NoConnectNodes nodes;
    boost::asio::io_context io(1);
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    auto logic = parley::logic::Logic::Create(
        io.get_executor(), {options, clock, **store, **log, presence, nodes, metrics});
    if (!logic.ok()) {
      state.SkipWithError(logic.status().message().c_str());
    } else if (parley::Status s = Block<parley::Status>([&](auto cb) { (*logic)->Start(cb); });
               !s.ok()) {
      state.SkipWithError(s.message().c_str());
    } else {
      uint64_t ids[2] = {0, 0};
      for (int u = 0; u < 2; ++u) {
        parley::rpc::RegisterRequest req;
        req.set_username(fmt::format("bench{}", u));
        req.set_password("bench-password");
        auto reply = Block<parley::rpc::RegisterReply>(
            [&](auto cb) { (*logic)->Register(std::move(req), cb); });
        ids[u] = reply.user().user_id();
      }
      const std::string body(100, 'x');
      uint64_t n = 0;
      std::atomic<uint64_t> failed{0};
      for (auto _ : state) {
        std::atomic<int> left{1000};
        std::promise<void> all;
        for (int i = 0; i < 1000; ++i) {
          parley::rpc::SendRequest req;
          req.set_from(ids[0]);
          req.set_to_user(ids[1]);
          req.set_client_id(fmt::format("c{}", n++));
          req.set_body(body);
          (*logic)->Send(std::move(req), [&](parley::rpc::SendReply r) {
            if (r.error().code() != parley::rpc::OK) ++failed;
            if (--left == 0) all.set_value();
          });
        }
        all.get_future().wait();
      }
      if (failed > 0) state.SkipWithError("some sends failed");
      state.SetItemsProcessed(state.iterations() * 1000);
    }
    work.reset();
    io.stop();
    runner.join();
    if (logic.ok()) logic->reset();  // before the store and log it uses
  }
  fs::remove_all(dir);
}
BENCHMARK(BM_LogicSend1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

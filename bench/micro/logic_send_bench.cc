// The logic tier's send path in-process, without the network: validate,
// rate-limit, check idempotency, assign msg_id (snowflake) and seq, append
// to the durable log, ack. 1,000 sends are submitted at once, one Send call
// each, as a busy api tier would, and the benchmark waits for every ack. The
// shared state is the embedded state/ seams. No connect node is attached, so
// nothing is pushed (push cost is the fan-out benchmark's).
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
#include "state/embedded/cached_group_directory.h"
#include "state/embedded/cached_session_store.h"
#include "state/embedded/embedded_auth_rate_limits.h"
#include "state/embedded/embedded_idempotency_store.h"
#include "state/embedded/memory_recent_window.h"
#include "state/embedded/memory_sequence_allocator.h"
#include "store/sqlite/sqlite_store.h"

namespace {

namespace fs = std::filesystem;

// A deployment with no connect node: every Find() is empty.
class NoConnectNodes final : public parley::connect::ConnectDirectory {
 public:
  std::shared_ptr<parley::connect::ConnectService> Find(const std::string&, uint64_t) override {
    return nullptr;
  }
  std::vector<std::string> AllNodes() override { return {}; }
  bool NotYetSeen(uint64_t) override { return false; }
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
    parley::state::MemorySequenceAllocator seqs;
    parley::state::EmbeddedIdempotencyStore sent(**store, options.storage.idempotency_ttl_ms,
                                                 options.storage.idempotency_cache_max);
    parley::state::CachedSessionStore sessions(**store, options.storage.session_cache_max);
    parley::state::CachedGroupDirectory groups(**store, options.storage.group_cache_max,
                                               options.storage.group_cache_max_bytes);
    parley::state::MemoryRecentWindow recent(options.storage.recent_per_conv,
                                             options.storage.recent_convs_max);
    parley::state::EmbeddedAuthRateLimits auth_limits(clock, options.rate);
    boost::asio::io_context io(1);
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    auto logic = parley::logic::Logic::Create(
        io.get_executor(), {options, clock, **store, **log, presence, nodes, metrics, seqs, sent,
                            sessions, groups, recent, auth_limits});
    if (!logic.ok()) {
      state.SkipWithError(logic.status().message().c_str());
    } else {
      uint64_t ids[2] = {0, 0};
      for (int u = 0; u < 2; ++u) {
        parley::rpc::RegisterRequest req;
        req.set_username(fmt::format("bench{}", u));
        req.set_password("bench-password");
        auto reply = Block<parley::rpc::RegisterReply>(
            [&](auto cb) { (*logic)->Register({}, std::move(req), cb); });
        ids[u] = reply.user().user_id();
      }
      parley::rpc::LoginRequest login;
      login.set_username("bench0");
      login.set_password("bench-password");
      parley::logic::CallContext sender;
      sender.token = Block<parley::rpc::LoginReply>([&](auto cb) {
                       (*logic)->Login({}, std::move(login), cb);
                     }).token();
      const std::string body(100, 'x');
      uint64_t n = 0;
      std::atomic<uint64_t> failed{0};
      for (auto _ : state) {
        std::atomic<int> left{1000};
        std::promise<void> all;
        for (int i = 0; i < 1000; ++i) {
          parley::rpc::SendBatch batch;
          parley::rpc::SendRequest* req = batch.add_requests();
          req->set_to_user(ids[1]);
          req->set_client_id(fmt::format("c{}", n++));
          req->set_body(body);
          (*logic)->Send(sender, std::move(batch), [&](parley::rpc::SendBatchReply r) {
            if (r.replies(0).error().code() != parley::rpc::OK) ++failed;
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

#include "load/scenarios.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "load/http_client.h"
#include "load/message_load.h"
#include "load/process_stats.h"
#include "load/report.h"
#include "load/setup.h"
#include "load/storm.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

// Event loops on threads of their own; stopped and joined on destruction.
class LoopThreads {
 public:
  explicit LoopThreads(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      ios_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(ios_.back()->get_executor());
    }
    for (uint32_t i = 0; i < n; ++i) threads_.emplace_back([io = ios_[i].get()] { io->run(); });
  }
  ~LoopThreads() { Stop(); }
  LoopThreads(const LoopThreads&) = delete;
  LoopThreads& operator=(const LoopThreads&) = delete;
  void Stop() {
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  asio::io_context& io(size_t i) { return *ios_[i]; }
  size_t size() const { return ios_.size(); }

  // The loads must go after their loops stop and before their io_contexts:
  // declared after both, this stops the loops first on every return path.
  struct StopFirst {
    LoopThreads& loops;
    ~StopFirst() { loops.Stop(); }
  };

 private:
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// co_spawn wants a default-constructible result; StatusOr is not.
template <typename T>
asio::awaitable<std::optional<T>> AsOptional(asio::awaitable<T> a) {
  co_return co_await std::move(a);
}

// Runs a coroutine to completion on a private io_context on this thread.
template <typename T>
T RunHere(asio::awaitable<T> a) {
  asio::io_context io(1);
  auto f = asio::co_spawn(io, AsOptional(std::move(a)), asio::use_future);
  io.run();
  return *f.get();
}

void Progress(const BenchConfig& cfg, const std::string& line) {
  if (!cfg.quiet) std::cerr << "[parley-bench] " << line << std::endl;
}

double Seconds(int64_t from_ns) { return static_cast<double>(NowNs() - from_ns) / 1e9; }
int64_t Millis(double seconds) { return std::llround(seconds * 1000); }

json::object Params(const BenchConfig& cfg) {
  json::object p;
  p["server"] = cfg.server;
  p["users"] = cfg.users;
  p["devices"] = cfg.devices;
  p["threads"] = cfg.threads;
  p["source_ips"] = cfg.source_ips;
  if (cfg.scenario == "p2p" || cfg.scenario == "group") {
    p["body_size"] = cfg.body_size;
    p["warmup_s"] = Num(cfg.warmup_s);
    p["duration_s"] = Num(cfg.duration_s);
    p["grace_s"] = Num(cfg.grace_s);
    p["p99_target_ms"] = Num(cfg.p99_target_ms);
    if (!cfg.sweep.empty()) p["sweep"] = cfg.sweep;
  }
  if (cfg.scenario == "group") {
    p["groups"] = cfg.groups;
    p["group_size"] = cfg.group_size;
  }
  if (cfg.scenario == "storm") p["messages_per_user"] = cfg.messages_per_user;
  if (cfg.scenario == "login") p["login_concurrency"] = cfg.login_concurrency;
  if (cfg.scenario == "idle" || cfg.scenario == "login") p["duration_s"] = Num(cfg.duration_s);
  return p;
}

void PrintJsonLine(json::object out) { std::cout << json::serialize(out) << std::endl; }

// Set-up shared by p2p, group and idle: users (and groups), split into one
// share per event loop.
StatusOr<std::vector<LoadShare>> PrepareShares(const BenchConfig& cfg, const ServerTarget& target,
                                               LoadMode mode, json::object& out) {
  uint32_t loops = std::max<uint32_t>(cfg.threads, 1);
  uint32_t users = mode == LoadMode::kGroup ? cfg.groups * cfg.group_size : cfg.users;
  int64_t t0 = NowNs();
  Progress(cfg, "registering and logging in " + std::to_string(users) + " users (" +
                    std::to_string(cfg.http_concurrency) + " at a time)");
  auto created = RunHere(CreateUsers(cfg, target, users));
  if (!created.ok()) return created.status();
  double setup_s = Seconds(t0);
  Progress(cfg, "users ready in " + Fixed(setup_s, 2) + " s (" +
                    Fixed(users / std::max(setup_s, 1e-9), 0) + " users/s, register + login)");
  json::object setup;
  setup["users"] = users;
  setup["users_ms"] = Millis(setup_s);

  std::vector<LoadShare> shares(loops);
  if (mode == LoadMode::kGroup) {
    int64_t t1 = NowNs();
    auto groups = RunHere(CreateGroups(cfg, target, *created, cfg.groups, cfg.group_size));
    if (!groups.ok()) return groups.status();
    setup["groups_ms"] = Millis(Seconds(t1));
    Progress(cfg, std::to_string(cfg.groups) + " groups of " + std::to_string(cfg.group_size) +
                      " created in " + Fixed(Seconds(t1), 2) + " s");
    if (cfg.groups < loops) return Status::InvalidArgument("fewer groups than --threads");
    // Whole groups per loop; members re-indexed into the loop's user list.
    for (uint32_t g = 0; g < cfg.groups; ++g) {
      LoadShare& s = shares[g * loops / cfg.groups];
      BenchGroup local{(*groups)[g].group_id, {}};
      for (uint32_t m : (*groups)[g].members) {
        local.members.push_back(static_cast<uint32_t>(s.users.size()));
        s.users.push_back((*created)[m]);
      }
      s.groups.push_back(std::move(local));
    }
  } else {
    for (uint32_t i = 0; i < users; ++i) {
      shares[static_cast<uint64_t>(i) * loops / users].users.push_back((*created)[i]);
    }
    for (const auto& s : shares) {
      if (mode == LoadMode::kP2p && s.users.size() < 2) {
        return Status::InvalidArgument("p2p needs at least 2 users per thread");
      }
    }
  }
  uint32_t offset = 0;
  for (auto& s : shares) {
    s.first_connection = offset;
    offset += static_cast<uint32_t>(s.users.size() * std::max<uint32_t>(cfg.devices, 1));
  }
  out["setup"] = std::move(setup);
  return shares;
}

// Opens every share's connections; the time it took, or an error.
StatusOr<double> ConnectAll(const BenchConfig& cfg, const ServerTarget& target, LoopThreads& loops,
                            std::vector<std::unique_ptr<MessageLoad>>& loads) {
  size_t total = 0;
  for (auto& l : loads) total += l->connections();
  Progress(cfg, "opening " + std::to_string(total) + " WebSockets and waiting for every hello");
  int64_t t0 = NowNs();
  std::vector<std::future<Status>> fs;
  for (size_t i = 0; i < loads.size(); ++i) {
    fs.push_back(asio::co_spawn(loops.io(i), loads[i]->Connect(target), asio::use_future));
  }
  Status first;
  for (auto& f : fs) {
    Status s = f.get();
    if (!s.ok() && first.ok()) first = s;
  }
  if (!first.ok()) return first;
  double s = Seconds(t0);
  Progress(cfg, std::to_string(total) + " WebSockets open in " + Fixed(s, 2) + " s");
  return s;
}

int RunMessaging(const BenchConfig& cfg, const ServerTarget& target, LoadMode mode) {
  std::vector<double> rates{cfg.rate};
  if (!cfg.sweep.empty()) {
    auto r = ParseSweep(cfg.sweep);
    if (!r.ok()) {
      std::cerr << "parley-bench: " << r.status().message() << "\n";
      return kExitSetup;
    }
    rates = *r;
  }
  json::object out;
  out["scenario"] = cfg.scenario;
  out["params"] = Params(cfg);
  auto shares = PrepareShares(cfg, target, mode, out);
  if (!shares.ok()) {
    std::cerr << "parley-bench: set-up failed: " << shares.status().message() << "\n";
    return kExitSetup;
  }
  const uint32_t fanout = mode == LoadMode::kGroup
                              ? (cfg.group_size - 1) * cfg.devices + (cfg.devices - 1)
                              : 2 * cfg.devices - 1;

  LoopThreads loops(static_cast<uint32_t>(shares->size()));
  std::vector<std::unique_ptr<MessageLoad>> loads;
  for (size_t i = 0; i < shares->size(); ++i) {
    loads.push_back(std::make_unique<MessageLoad>(loops.io(i), cfg, mode, std::move((*shares)[i]),
                                                  0x5eed0000 + i));
  }
  LoopThreads::StopFirst stop_first{loops};
  auto connected = ConnectAll(cfg, target, loops, loads);
  if (!connected.ok()) {
    std::cerr << "parley-bench: " << connected.status().message() << "\n";
    return kExitSetup;
  }
  out["connect_ms"] = Millis(*connected);

  std::cout << cfg.scenario << ": "
            << (mode == LoadMode::kGroup ? std::to_string(cfg.groups) + " groups x " +
                                               std::to_string(cfg.group_size) + " members"
                                         : std::to_string(cfg.users) + " users")
            << ", " << cfg.devices << " connection(s) per user, " << cfg.body_size
            << "-byte bodies, " << fanout << " deliveries per send, " << cfg.warmup_s
            << " s warm-up + " << cfg.duration_s << " s measured + up to " << cfg.grace_s
            << " s grace per step\n";
  std::cout
      << "latency: send on one socket -> push received on another (ms); ack p99: send -> ack\n";
  std::cout << StepTableHeader() << std::endl;

  json::array steps;
  std::optional<StepStats> best;
  bool drained = true;
  for (size_t k = 0; k < rates.size(); ++k) {
    Progress(cfg, "step " + std::to_string(k + 1) + "/" + std::to_string(rates.size()) + ": " +
                      Fixed(rates[k], 0) + " sends/s");
    std::vector<std::future<StepStats>> fs;
    for (size_t i = 0; i < loads.size(); ++i) {
      fs.push_back(asio::co_spawn(loops.io(i),
                                  loads[i]->RunStep(rates[k] / static_cast<double>(loads.size()),
                                                    static_cast<uint16_t>(k + 1), i == 0),
                                  asio::use_future));
    }
    StepStats merged;
    for (auto& f : fs) merged.Merge(f.get());
    std::string why;
    bool pass = StepPasses(merged, cfg.p99_target_ms, &why);
    std::cout << StepTableRow(merged, pass, why) << std::endl;
    steps.push_back(StepJson(merged, pass, why));
    drained = drained && merged.drained;
    if (pass) best = merged;
    if (!merged.drained) {
      std::cout << "!!! step did not drain within " << cfg.drain_timeout_s
                << " s: stopping (what is missing is reported as lost)\n";
      break;
    }
    if (!pass && !cfg.sweep.empty()) break;
  }
  loops.Stop();

  DeliveryTally tally;
  uint64_t closed = 0, bad_frames = 0;
  std::string close_reason;
  std::map<std::string, uint64_t> errors;
  for (auto& l : loads) {
    tally.Merge(l->Finish());
    closed += l->closed_during_run();
    bad_frames += l->bad_frames();
    if (close_reason.empty()) close_reason = l->first_close_reason();
    for (auto& [code, n] : l->errors()) errors[code] += n;
  }

  std::cout << TallyText(tally) << "\n";
  if (best) {
    double deliveries = static_cast<double>(best->measured_delivered) / best->window_s;
    std::cout << "best passing step: " << Fixed(best->offered_rate, 0) << " sends/s offered, "
              << Fixed(deliveries, 0) << " deliveries/s, e2e " << LatencyText(best->e2e) << "\n";
    json::object b;
    b["sends_per_s"] = Num(best->offered_rate);
    b["deliveries_per_s"] = std::llround(deliveries);
    b["e2e"] = LatencyJson(best->e2e);
    out["best"] = std::move(b);
  } else {
    std::cout << "no step passed (p99 <= " << cfg.p99_target_ms << " ms, nothing missing)\n";
    out["best"] = nullptr;
  }
  int code = kExitOk;
  if (closed > 0) {
    std::cout << "!!! " << closed << " WebSockets closed during the run; first: " << close_reason
              << "\n";
    code = kExitViolation;
  }
  if (bad_frames > 0) {
    std::cout << "!!! " << bad_frames << " frames from the server were malformed or unexpected\n";
    code = kExitViolation;
  }
  if (!errors.empty()) {
    for (auto& [what, n] : errors) std::cout << "!!! error frames: " << what << " x" << n << "\n";
    if (code == kExitOk) code = kExitRefused;
  }
  if (!tally.clean()) code = kExitViolation;
  json::object client;
  client["rss_bytes"] = RssBytes(0);
  out["client"] = std::move(client);
  out["steps"] = std::move(steps);
  out["delivery"] = TallyJson(tally);
  out["closed_during_run"] = closed;
  out["bad_frames"] = bad_frames;
  out["drained"] = drained;
  out["exit_code"] = code;
  PrintJsonLine(std::move(out));
  return code;
}

int RunIdle(const BenchConfig& cfg, const ServerTarget& target) {
  json::object out;
  out["scenario"] = cfg.scenario;
  out["params"] = Params(cfg);
  auto shares = PrepareShares(cfg, target, LoadMode::kIdle, out);
  if (!shares.ok()) {
    std::cerr << "parley-bench: set-up failed: " << shares.status().message() << "\n";
    return kExitSetup;
  }
  LoopThreads loops(static_cast<uint32_t>(shares->size()));
  std::vector<std::unique_ptr<MessageLoad>> loads;
  for (size_t i = 0; i < shares->size(); ++i) {
    loads.push_back(std::make_unique<MessageLoad>(loops.io(i), cfg, LoadMode::kIdle,
                                                  std::move((*shares)[i]), i));
  }
  LoopThreads::StopFirst stop_first{loops};
  int64_t server_before = cfg.server_pid ? RssBytes(cfg.server_pid) : -1;
  int64_t client_before = RssBytes(0);
  auto connected = ConnectAll(cfg, target, loops, loads);
  if (!connected.ok()) {
    std::cerr << "parley-bench: " << connected.status().message() << "\n";
    return kExitSetup;
  }
  size_t n = 0;
  for (auto& l : loads) n += l->connections();
  // Let the server settle (buffers shrink after the hello) before measuring.
  std::vector<std::future<void>> fs;
  for (size_t i = 0; i < loads.size(); ++i) {
    fs.push_back(asio::co_spawn(loops.io(i), loads[i]->Hold(2.0), asio::use_future));
  }
  for (auto& f : fs) f.get();
  int64_t server_open = cfg.server_pid ? RssBytes(cfg.server_pid) : -1;
  int64_t client_open = RssBytes(0);
  Progress(cfg, "holding " + std::to_string(n) + " idle connections for " +
                    Fixed(cfg.duration_s, 0) + " s");
  fs.clear();
  for (size_t i = 0; i < loads.size(); ++i) {
    fs.push_back(asio::co_spawn(loops.io(i), loads[i]->Hold(cfg.duration_s), asio::use_future));
  }
  for (auto& f : fs) f.get();
  int64_t server_end = cfg.server_pid ? RssBytes(cfg.server_pid) : -1;
  loops.Stop();
  uint64_t closed = 0;
  std::string reason;
  for (auto& l : loads) {
    closed += l->closed_during_run();
    if (reason.empty()) reason = l->first_close_reason();
  }
  auto per_conn = [&](int64_t a, int64_t b) {
    return a < 0 || b < 0 ? -1.0 : static_cast<double>(b - a) / static_cast<double>(n);
  };
  std::cout << "idle: " << n << " WebSockets opened in " << Fixed(*connected, 2) << " s\n";
  if (cfg.server_pid) {
    std::cout << "server RSS: " << server_before / 1024 << " KiB before, " << server_open / 1024
              << " KiB with the connections open, " << server_end / 1024 << " KiB after "
              << cfg.duration_s << " s idle\n";
    std::cout << "server memory per idle connection: "
              << Fixed(per_conn(server_before, server_open), 0) << " bytes (after "
              << cfg.duration_s << " s: " << Fixed(per_conn(server_before, server_end), 0)
              << " bytes)\n";
  } else {
    std::cout << "(pass --server-pid to measure the server's memory per connection)\n";
  }
  std::cout << "generator memory per connection: " << Fixed(per_conn(client_before, client_open), 0)
            << " bytes\n";
  int code = kExitOk;
  if (closed > 0) {
    std::cout << "!!! " << closed << " connections closed while idle; first: " << reason << "\n";
    code = kExitViolation;
  }
  out["connections"] = n;
  out["connect_ms"] = Millis(*connected);
  out["server_rss_before"] = server_before;
  out["server_rss_open"] = server_open;
  out["server_rss_end"] = server_end;
  out["server_bytes_per_conn"] = std::llround(per_conn(server_before, server_open));
  out["server_bytes_per_conn_end"] = std::llround(per_conn(server_before, server_end));
  out["client_bytes_per_conn"] = std::llround(per_conn(client_before, client_open));
  out["closed_during_run"] = closed;
  out["exit_code"] = code;
  PrintJsonLine(std::move(out));
  return code;
}

int RunStorm(const BenchConfig& cfg, const ServerTarget& target) {
  json::object out;
  out["scenario"] = cfg.scenario;
  out["params"] = Params(cfg);
  if (cfg.users < 2) {
    std::cerr << "parley-bench: storm needs at least 2 users\n";
    return kExitSetup;
  }
  int64_t t0 = NowNs();
  Progress(cfg, "registering and logging in " + std::to_string(cfg.users) + " users");
  auto users = RunHere(CreateUsers(cfg, target, cfg.users));
  if (!users.ok()) {
    std::cerr << "parley-bench: set-up failed: " << users.status().message() << "\n";
    return kExitSetup;
  }
  Progress(cfg, "users ready in " + Fixed(Seconds(t0), 2) + " s; connecting, dropping, sending " +
                    std::to_string(cfg.messages_per_user * cfg.users) + " messages over HTTP, " +
                    "reconnecting all at once");
  asio::io_context io(1);
  StormLoad storm(io, cfg, std::move(*users));
  auto f = asio::co_spawn(io, AsOptional(storm.Run(target)), asio::use_future);
  io.run();
  auto r = *f.get();
  if (!r.ok()) {
    std::cerr << "parley-bench: storm failed: " << r.status().message() << "\n";
    return kExitSetup;
  }
  const StormResult& s = *r;
  std::cout << "storm: " << s.clients << " clients dropped; " << s.offline_messages
            << " messages sent to them over HTTP in " << Fixed(s.offline_send_s, 2) << " s\n";
  std::cout << "all reconnected at once: every client caught up in " << Fixed(s.catch_up_s, 3)
            << " s (" << s.syncs << " syncs, " << s.synced << " of " << s.expected
            << " missed messages fetched)\n";
  std::cout << "hello after reconnect:   " << LatencyText(s.hello) << "\n";
  std::cout << "caught up per client:    " << LatencyText(s.per_client) << "\n";
  int code = kExitOk;
  if (!s.clean()) {
    std::cout << "!!! STORM VIOLATIONS: lost " << s.lost << ", duplicated " << s.duplicated
              << ", out of order " << s.out_of_order << ", not caught up " << s.not_caught_up
              << ", failed reconnects " << s.failures << ", error frames " << s.errors
              << (s.first_failure.empty() ? "" : "; first failure: " + s.first_failure) << "\n";
    code = kExitViolation;
  }
  out["clients"] = s.clients;
  out["offline_messages"] = s.offline_messages;
  out["catch_up_ms"] = Millis(s.catch_up_s);
  out["offline_send_ms"] = Millis(s.offline_send_s);
  out["syncs"] = s.syncs;
  out["synced"] = s.synced;
  out["expected"] = s.expected;
  out["hello"] = LatencyJson(s.hello);
  out["per_client"] = LatencyJson(s.per_client);
  out["lost"] = s.lost;
  out["duplicated"] = s.duplicated;
  out["out_of_order"] = s.out_of_order;
  out["not_caught_up"] = s.not_caught_up;
  out["failures"] = s.failures;
  out["errors"] = s.errors;
  out["exit_code"] = code;
  PrintJsonLine(std::move(out));
  return code;
}

int RunLogin(const BenchConfig& cfg, const ServerTarget& target) {
  json::object out;
  out["scenario"] = cfg.scenario;
  out["params"] = Params(cfg);
  int64_t t0 = NowNs();
  Progress(cfg, "registering " + std::to_string(cfg.users) + " users");
  auto users = RunHere(CreateUsers(cfg, target, cfg.users));
  if (!users.ok()) {
    std::cerr << "parley-bench: set-up failed: " << users.status().message() << "\n";
    return kExitSetup;
  }
  Progress(cfg, "users ready in " + Fixed(Seconds(t0), 2) + " s; logging in for " +
                    Fixed(cfg.duration_s, 0) + " s with " + std::to_string(cfg.login_concurrency) +
                    " concurrent clients");
  Histogram latency;
  uint64_t ok = 0, limited = 0, busy = 0;
  size_t next = 0;
  CpuSample c0 = SampleCpu(cfg.server_pid);
  int64_t deadline = NowNs() + static_cast<int64_t>(cfg.duration_s * 1e9);
  Status s = RunHere(RunWorkers(
      target, cfg.login_concurrency, [&](size_t, HttpConnection& conn) -> asio::awaitable<Status> {
        while (NowNs() < deadline) {
          const BenchUser& u = (*users)[next++ % users->size()];
          json::object body;
          body["username"] = u.username;
          body["password"] = cfg.password;
          int64_t start = NowNs();
          auto r = co_await conn.Request(http::verb::post, "/api/v1/sessions",
                                         json::serialize(body), "");
          if (!r.ok()) co_return r.status();
          if (r->status == 429) {
            ++limited;
            continue;
          }
          if (r->status == 503 && r->retry_after_ms > 0) {
            // The server's hashers are all busy and its queue is full: it
            // sheds the login at once rather than queue it without bound.
            ++busy;
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(std::chrono::milliseconds(r->retry_after_ms));
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
          }
          if (r->status != 200) {
            co_return Status::Internal("login answered HTTP " + std::to_string(r->status) + ": " +
                                       r->body);
          }
          latency.Record(NowNs() - start);
          ++ok;
        }
        co_return Status::Ok();
      }));
  CpuSample c1 = SampleCpu(cfg.server_pid);
  if (!s.ok()) {
    std::cerr << "parley-bench: login failed: " << s.message() << "\n";
    return kExitSetup;
  }
  double wall = static_cast<double>(c1.wall_ns - c0.wall_ns) / 1e9;
  double rate = static_cast<double>(ok) / wall;
  double server_cores = CoreShare(c0.server_cpu_ns, c1.server_cpu_ns, c0.wall_ns, c1.wall_ns);
  double client_cores = CoreShare(c0.self_cpu_ns, c1.self_cpu_ns, c0.wall_ns, c1.wall_ns);
  std::cout << "login: " << ok << " logins in " << Fixed(wall, 2) << " s = " << Fixed(rate, 0)
            << " logins/s with " << cfg.login_concurrency << " concurrent clients"
            << (busy > 0 ? "; " + std::to_string(busy) + " shed with 503 (hasher queue full)" : "")
            << "\n";
  std::cout << "latency: " << LatencyText(latency) << "\n";
  std::cout << "cpu: generator " << Fixed(client_cores * 100, 0) << "% of a core"
            << (server_cores >= 0 ? ", server " + Fixed(server_cores * 100, 0) + "%" : "") << "\n";
  int code = kExitOk;
  if (limited > 0) {
    std::cout << "!!! " << limited
              << " logins were rate-limited (429): start the server with --config "
                 "bench/bench.json\n";
    code = kExitRefused;
  }
  out["logins"] = ok;
  out["logins_per_s"] = std::llround(rate);
  out["latency"] = LatencyJson(latency);
  out["rate_limited"] = limited;
  out["busy_503"] = busy;
  out["client_cpu_pct"] = std::llround(client_cores * 100);
  out["server_cpu_pct"] = server_cores < 0 ? -1 : std::llround(server_cores * 100);
  out["exit_code"] = code;
  PrintJsonLine(std::move(out));
  return code;
}

}  // namespace

StatusOr<std::vector<double>> ParseSweep(const std::string& spec) {
  double v[3];
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    size_t end = i < 2 ? spec.find(':', pos) : spec.size();
    if (end == std::string::npos) return Status::InvalidArgument("--sweep wants START:FACTOR:MAX");
    auto [p, ec] = std::from_chars(spec.data() + pos, spec.data() + end, v[i]);
    if (ec != std::errc() || p != spec.data() + end) {
      return Status::InvalidArgument("--sweep wants numbers: START:FACTOR:MAX");
    }
    pos = end + 1;
  }
  if (v[0] <= 0 || v[1] <= 1 || v[2] < v[0]) {
    return Status::InvalidArgument("--sweep wants START > 0, FACTOR > 1, MAX >= START");
  }
  std::vector<double> rates;
  for (double r = v[0]; r <= v[2] * 1.000001; r *= v[1]) rates.push_back(std::round(r));
  return rates;
}

int RunScenario(const BenchConfig& cfg) {
  auto target = ParseServerTarget(cfg.server, cfg.source_ips);
  if (!target.ok()) {
    std::cerr << "parley-bench: " << target.status().message() << "\n";
    return kExitSetup;
  }
  if (cfg.body_size < 24 || cfg.body_size > 4096) {
    std::cerr << "parley-bench: --body-size must be 24..4096 (the body carries the send's id)\n";
    return kExitSetup;
  }
  if (cfg.scenario == "p2p") return RunMessaging(cfg, *target, LoadMode::kP2p);
  if (cfg.scenario == "group") return RunMessaging(cfg, *target, LoadMode::kGroup);
  if (cfg.scenario == "idle") return RunIdle(cfg, *target);
  if (cfg.scenario == "storm") return RunStorm(cfg, *target);
  if (cfg.scenario == "login") return RunLogin(cfg, *target);
  std::cerr << "parley-bench: unknown scenario " << cfg.scenario << "\n";
  return kExitSetup;
}

}  // namespace parley::bench

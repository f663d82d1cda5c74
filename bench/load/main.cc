// parley-bench: a load generator for any server speaking Parley's protocol
// (docs/wire-protocol.md). See docs/benchmarks.md for how to run each scenario.
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "load/config.h"
#include "load/process_stats.h"
#include "load/scenarios.h"
#include "load/setup.h"

int main(int argc, char** argv) {
  using parley::bench::BenchConfig;
  BenchConfig cfg;
  CLI::App app{"parley-bench: load generator and delivery checker for Parley"};
  app.add_option("scenario", cfg.scenario, "p2p | group | idle | storm | login")
      ->check(CLI::IsMember({"p2p", "group", "idle", "storm", "login"}))
      ->required();
  app.add_option("--server", cfg.server, "host:port of the server")->capture_default_str();
  app.add_option("--source-ips", cfg.source_ips,
                 "spread connections over 127.0.0.2..127.0.0.(N+1) (0: kernel's choice)")
      ->capture_default_str();
  app.add_option("--threads", cfg.threads, "event loops, each with its share of the users")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--users", cfg.users, "users (p2p, idle, storm, login)")->capture_default_str();
  app.add_option("--devices", cfg.devices, "WebSocket connections per user")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--user-prefix", cfg.user_prefix, "username prefix (default: random per run)");
  app.add_option("--password", cfg.password, "password of the bench users")->capture_default_str();
  app.add_option("--http-concurrency", cfg.http_concurrency, "concurrent set-up HTTP requests")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--connect-concurrency", cfg.connect_concurrency,
                 "WebSocket handshakes in flight during set-up")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--setup-timeout", cfg.setup_timeout_s,
                 "seconds for connecting (and storm catch-up)")
      ->capture_default_str();
  app.add_option("--rate", cfg.rate, "offered sends per second over all clients")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--sweep", cfg.sweep,
                 "START:FACTOR:MAX: raise the rate step by step on the same connections and "
                 "report the highest whose p99 meets --p99-target with nothing missing");
  app.add_option("--body-size", cfg.body_size, "bytes per message body")->capture_default_str();
  app.add_option("--warmup", cfg.warmup_s, "seconds of load before measuring")
      ->capture_default_str();
  app.add_option("--duration", cfg.duration_s,
                 "seconds measured (idle: held open; login: logging in)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--grace", cfg.grace_s, "seconds to wait for stragglers after each step")
      ->capture_default_str();
  app.add_option("--drain-timeout", cfg.drain_timeout_s,
                 "seconds after the grace before anything missing counts as lost")
      ->capture_default_str();
  app.add_option("--p99-target", cfg.p99_target_ms, "p99 pass mark in ms")->capture_default_str();
  app.add_option("--tick-us", cfg.tick_us, "the pacer wakes at most this often (us)")
      ->check(CLI::Range(10, 100000))
      ->capture_default_str();
  app.add_option("--groups", cfg.groups, "group scenario: number of groups")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--group-size", cfg.group_size, "group scenario: members per group")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  app.add_option("--messages-per-user", cfg.messages_per_user,
                 "storm: messages sent per user while everyone is away")
      ->capture_default_str();
  app.add_option("--login-concurrency", cfg.login_concurrency, "login: concurrent clients")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--server-pid", cfg.server_pid,
                 "pid of the server, to report its CPU and memory from /proc");
  app.add_flag("--quiet", cfg.quiet, "no progress lines on stderr");
  CLI11_PARSE(app, argc, argv);

  if (cfg.user_prefix.empty()) cfg.user_prefix = parley::bench::RandomUserPrefix();
  uint64_t files = parley::bench::RaiseFileLimit();
  uint64_t users = cfg.scenario == "group" ? uint64_t{cfg.groups} * cfg.group_size : cfg.users;
  uint64_t needed = users * cfg.devices + cfg.http_concurrency + 64;
  if (cfg.scenario != "login" && files < needed) {
    std::cerr << "parley-bench: " << needed << " open files needed but the limit is " << files
              << "; run several generators, each with fewer --users\n";
    return parley::bench::kExitSetup;
  }
  try {
    return parley::bench::RunScenario(cfg);
  } catch (const std::exception& e) {
    std::cerr << "parley-bench: " << e.what() << "\n";
    return parley::bench::kExitSetup;
  }
}

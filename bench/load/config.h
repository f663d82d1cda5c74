// Everything a parley-bench run is told on its command line, with defaults.
#pragma once

#include <cstdint>
#include <string>

namespace parley::bench {

struct BenchConfig {
  std::string scenario = "p2p";  // p2p | group | idle | storm | login
  std::string server = "127.0.0.1:8080";
  // Source addresses 127.0.0.2 .. 127.0.0.(1 + source_ips), round-robin per
  // connection; 0 lets the kernel choose (127.0.0.1).
  uint32_t source_ips = 0;
  uint32_t threads = 1;     // event loops; each drives its own share of the users
  std::string user_prefix;  // usernames are <prefix><n>; random per run when empty
  std::string password = "bench-password-1";

  // Set-up.
  uint32_t users = 1000;
  uint32_t devices = 1;                // WebSocket connections per user
  uint32_t http_concurrency = 64;      // concurrent register/login requests
  uint32_t connect_concurrency = 512;  // WebSocket handshakes in flight at once
  double setup_timeout_s = 120;

  // Message load (p2p, group).
  double rate = 10'000;      // offered sends per second, over all clients
  std::string sweep;         // START:FACTOR:MAX; overrides `rate`
  uint32_t body_size = 100;  // bytes per message body
  double warmup_s = 2;
  double duration_s = 10;       // measured window (idle: hold time; login: run time)
  double grace_s = 2;           // after the window, wait this long for stragglers
  double drain_timeout_s = 60;  // then this long before calling anything lost
  double p99_target_ms = 50;    // the sweep's pass mark
  uint32_t tick_us = 250;       // the pacer wakes at most this often
  uint32_t groups = 50;         // group scenario: G groups ...
  uint32_t group_size = 20;     // ... of M members; users = G * M

  // Storm.
  uint32_t messages_per_user = 4;  // sent over HTTP while everyone is offline

  // Login.
  uint32_t login_concurrency = 64;

  // Server process to watch (CPU, RSS) from /proc; 0 for none.
  int server_pid = 0;
  bool quiet = false;  // no progress lines on stderr
};

}  // namespace parley::bench

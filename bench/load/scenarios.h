// The scenarios of parley-bench, each from set-up to report:
//   p2p    each message to a uniformly random other user
//   group  G groups of M members; each send goes to the M-1 others
//   idle   N connections held open: server memory per connection
//   storm  all clients drop and reconnect at once, then sync
//   login  logins per second
#pragma once

#include <vector>

#include "common/status.h"
#include "load/config.h"

namespace parley::bench {

// Exit codes of a run.
inline constexpr int kExitOk = 0;
inline constexpr int kExitSetup = 1;      // usage, set-up or connection failure
inline constexpr int kExitViolation = 2;  // lost, duplicated, out of order, ...
inline constexpr int kExitRefused = 3;    // the server refused work (errors, 429s)

// Rates of "START:FACTOR:MAX": START, START*FACTOR, ... up to MAX.
StatusOr<std::vector<double>> ParseSweep(const std::string& spec);

// Runs cfg.scenario against cfg.server, prints the report, returns an exit code.
int RunScenario(const BenchConfig& cfg);

}  // namespace parley::bench

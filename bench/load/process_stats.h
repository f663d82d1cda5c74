// CPU and memory of this process (getrusage) and of the server under test
// (/proc/<pid>), so that a report says who was busy.
#pragma once

#include <cstdint>

namespace parley::bench {

struct CpuSample {
  int64_t wall_ns = 0;              // monotonic
  int64_t self_cpu_ns = 0;          // user + system of this process
  int64_t server_cpu_ns = -1;       // user + system of the server; -1 unknown
  int64_t server_write_bytes = -1;  // bytes the server caused to be written to disk
};

// Monotonic clock in ns (the clock every latency is taken with).
int64_t NowNs();

CpuSample SampleCpu(int server_pid);
// Share of one core used between two samples (1.0 = one core busy).
double CoreShare(int64_t cpu_ns_a, int64_t cpu_ns_b, int64_t wall_a, int64_t wall_b);

// Resident memory in bytes (VmRSS); -1 when unknown.
int64_t RssBytes(int pid);  // pid 0: this process

// Raises the soft limit on open files to the hard limit; returns the limit.
uint64_t RaiseFileLimit();

}  // namespace parley::bench

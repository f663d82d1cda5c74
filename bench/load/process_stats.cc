#include "load/process_stats.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace parley::bench {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

namespace {

int64_t ServerCpuNs(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  // The command name (field 2) may hold spaces: fields resume after ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  // Fields 3..13 precede utime (14) and stime (15).
  for (int i = 3; i <= 13; ++i) rest >> field;
  rest >> utime >> stime;
  if (!rest) return -1;
  return (utime + stime) * (1'000'000'000LL / sysconf(_SC_CLK_TCK));
}

int64_t ServerWriteBytes(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  long long value = 0;
  while (f >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return -1;
}

}  // namespace

CpuSample SampleCpu(int server_pid) {
  CpuSample s;
  s.wall_ns = NowNs();
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) { return tv.tv_sec * 1'000'000'000LL + tv.tv_usec * 1000LL; };
  s.self_cpu_ns = ns(ru.ru_utime) + ns(ru.ru_stime);
  s.server_cpu_ns = ServerCpuNs(server_pid);
  s.server_write_bytes = ServerWriteBytes(server_pid);
  return s;
}

double CoreShare(int64_t cpu_a, int64_t cpu_b, int64_t wall_a, int64_t wall_b) {
  if (wall_b <= wall_a || cpu_a < 0 || cpu_b < 0) return -1;
  return static_cast<double>(cpu_b - cpu_a) / static_cast<double>(wall_b - wall_a);
}

int64_t RssBytes(int pid) {
  std::ifstream f(pid > 0 ? "/proc/" + std::to_string(pid) + "/status" : "/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

uint64_t RaiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace parley::bench

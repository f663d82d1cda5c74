// Thread names, as top -H, perf, gdb and /proc/PID/task/*/comm show them:
// with them a profile or a per-thread CPU figure says which part of the
// server it is (the network, a database's writer, a log's delivery).
#pragma once

#include <string_view>

namespace parley {

// Names the calling thread. Linux keeps the first 15 bytes. Best effort: a
// name is a diagnostic, so a failure is ignored.
void NameThisThread(std::string_view name);

}  // namespace parley

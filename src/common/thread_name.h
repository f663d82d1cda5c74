// Thread names, as top -H, perf, gdb and /proc/PID/task/*/comm show them:
// with them a profile or a per-thread CPU figure says which part of the
// server it is (the network, a database's writer, a log's delivery).
#pragma once

#include <string_view>

namespace parley {

// Names the calling thread. Linux keeps the first 15 bytes. Use no spaces:
// tools that split /proc/PID/task/TID/stat on whitespace miscount its fields
// after one. Best effort: a name is a diagnostic, so a failure is ignored.
void NameThisThread(std::string_view name);

}  // namespace parley

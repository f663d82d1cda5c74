// Formats spdlog records as JSON lines for log shippers (Loki, ELK) that
// ingest one object per line as it is. Parley's log messages are logfmt
// ("event=send rid=7f3a user=12 error=\"bad token\""); each key=value pair
// becomes a field of the object, so `rid` is a field a query can follow
// across processes. Text that is not a key=value pair is kept in "msg".
//   {"ts":"2026-12-01T10:00:00.123Z","level":"info","role":"logic",
//    "node":"logic-1","event":"send","rid":"7f3a","user":"12"}
// Values stay strings: a field's type never changes between lines.
//
// spdlog has no JSON formatter of its own; this one is small and owns no
// shared state, so a logger may use it from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/formatter.h>

namespace parley {

// Fields every line of this process carries (role, node name), in order.
using LogFields = std::vector<std::pair<std::string, std::string>>;

class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(LogFields fixed) : fixed_(std::move(fixed)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  LogFields fixed_;
};

// Splits a logfmt message into (key, value) pairs; what is not a pair goes
// into `rest` (space-separated). Quoted values may hold spaces and \" \\.
LogFields ParseLogfmt(std::string_view text, std::string* rest);

}  // namespace parley

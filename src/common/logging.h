// Structured logs: logfmt lines (key=value) through spdlog, e.g.
//   ts=2026-11-22T10:00:00.123 level=info event=send rid=7f3a... user=12 conv=p:1:12
// A request id (rid) is made where a request enters (HTTP request, WebSocket
// frame) and travels in the protobuf requests (`request_id`) across tiers.
#pragma once

#include <string>

#include <spdlog/spdlog.h>

#include "common/json_log_formatter.h"

namespace parley {

// Configures the default logger at `level` (trace, debug, info, warn, error,
// off), writing to stderr: logfmt lines when `format` is "text", JSON lines
// (json_log_formatter.h) when "json". `fields` (role, node) start every line.
void SetupLogging(const std::string& level, const std::string& format = "text",
                  const LogFields& fields = {});

// 16 hex characters, random; cheap (thread-local generator).
std::string NewRequestId();

}  // namespace parley

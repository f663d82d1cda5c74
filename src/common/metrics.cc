#include "common/metrics.h"

#include <cstdio>

namespace parley {

namespace {
void Header(std::string& out, const char* name, const char* help, const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}
void Line(std::string& out, const std::string& name, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, " %.17g\n", v);
  out += name;
  out += buf;
}
void RenderCounter(std::string& out, const char* name, const char* help, const Counter& c) {
  Header(out, name, help, "counter");
  Line(out, name, static_cast<double>(c.value()));
}
void RenderGauge(std::string& out, const char* name, const char* help, const Gauge& g) {
  Header(out, name, help, "gauge");
  Line(out, name, static_cast<double>(g.value()));
}
}  // namespace

void Histogram::ObserveNs(int64_t ns) {
  double s = static_cast<double>(ns) / 1e9;
  size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns > 0 ? static_cast<uint64_t>(ns) : 0, std::memory_order_relaxed);
}

void Histogram::Render(std::string& out, const char* name, const char* help) const {
  Header(out, name, help, "histogram");
  uint64_t cumulative = 0;
  std::string base(name);
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBounds[i]);
    Line(out, base + "_bucket{le=\"" + le + "\"}", static_cast<double>(cumulative));
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  Line(out, base + "_bucket{le=\"+Inf\"}", static_cast<double>(cumulative));
  Line(out, base + "_sum", static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  Line(out, base + "_count", static_cast<double>(count_.load(std::memory_order_relaxed)));
}

void CodeCounter::Render(std::string& out, const char* name, const char* help) const {
  Header(out, name, help, "counter");
  for (size_t i = 1; i < c_.size(); ++i) {
    Line(out, std::string(name) + "{code=\"" + CodeName(static_cast<Code>(i)) + "\"}",
         static_cast<double>(c_[i].value()));
  }
}

std::string Metrics::Render() const {
  std::string out;
  out.reserve(8192);
  RenderGauge(out, "parley_ws_connections", "Open WebSocket connections.", ws_connections);
  RenderCounter(out, "parley_ws_opened_total", "WebSocket connections opened.", ws_opened);
  RenderCounter(out, "parley_ws_closed_slow_total", "Connections closed as slow consumers.",
                ws_closed_slow);
  RenderCounter(out, "parley_ws_closed_violation_total", "Connections closed for violations.",
                ws_closed_violation);
  RenderCounter(out, "parley_http_requests_total", "HTTP requests handled.", http_requests);
  RenderCounter(out, "parley_messages_accepted_total", "Messages acknowledged.", messages_accepted);
  RenderCounter(out, "parley_messages_duplicate_total", "Resends answered with the first ack.",
                messages_duplicate);
  RenderCounter(out, "parley_messages_pushed_total", "Message frames queued to connections.",
                messages_pushed);
  RenderCounter(out, "parley_messages_persisted_total", "Messages written to the store.",
                messages_persisted);
  RenderCounter(out, "parley_pushes_node_gone_total",
                "Pushes not sent because their node epoch had left.", pushes_node_gone);
  RenderCounter(out, "parley_frames_in_total", "WebSocket frames received.", frames_in);
  RenderCounter(out, "parley_logins_total", "Successful logins.", logins);
  RenderCounter(out, "parley_registrations_total", "Accounts created.", registrations);
  RenderGauge(out, "parley_log_lag_push", "Log entries not yet pushed.", log_lag_push);
  RenderGauge(out, "parley_log_lag_persist", "Log entries not yet persisted.", log_lag_persist);
  errors.Render(out, "parley_errors_total", "Error replies by code.");
  send_latency.Render(out, "parley_send_latency_seconds", "Send received to durable ack.");
  push_latency.Render(out, "parley_push_latency_seconds",
                      "Message accepted to queued for a recipient.");
  commit_latency.Render(out, "parley_commit_latency_seconds", "One group commit.");
  http_latency.Render(out, "parley_http_latency_seconds", "HTTP request handling time.");
  return out;
}

}  // namespace parley

// Process metrics in Prometheus text format. Hand-written rather than
// prometheus-cpp because the hot path needs plain relaxed atomics with no
// registry lookups or locks, and we serve /metrics from our own HTTP server.
// Every member is thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace parley {

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Add(int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  void Set(int64_t n) { v_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Latency histogram in seconds with fixed buckets from 100 us to 10 s.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0};
  void ObserveNs(int64_t ns);
  void Render(std::string& out, const char* name, const char* help) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// One counter per error code.
class CodeCounter {
 public:
  void Inc(Code code) { c_[static_cast<size_t>(code) % c_.size()].Inc(); }
  void Render(std::string& out, const char* name, const char* help) const;

 private:
  std::array<Counter, kCodeCount> c_;
};

struct Metrics {
  Gauge ws_connections;
  Counter ws_opened;
  Counter ws_closed_slow;       // closed as slow consumers
  Counter ws_closed_violation;  // closed for protocol or policy violations
  Counter http_requests;
  Counter messages_accepted;   // acknowledged sends
  Counter messages_duplicate;  // resends answered from the idempotency cache
  Counter messages_pushed;     // frames queued to connections
  Counter messages_persisted;
  Counter pushes_node_gone;  // pushes not sent: their node epoch had left the directory
  Counter frames_in;
  Counter logins;
  Counter registrations;
  Gauge log_lag_push;
  Gauge log_lag_persist;
  CodeCounter errors;        // error replies by code (HTTP and WebSocket)
  Histogram send_latency;    // send received -> ack (durable)
  Histogram push_latency;    // accepted -> queued on the recipient connection
  Histogram commit_latency;  // one group commit
  Histogram http_latency;    // HTTP request handling

  // The whole exposition, text format 0.0.4.
  std::string Render() const;
};

}  // namespace parley

// The open-loop message load of the p2p and group scenarios, for one event
// loop: its share of the users' WebSockets, a pacer that sends at a fixed
// offered rate whatever the server's answers (so that queueing shows in the
// latency instead of slowing the load), and the bookkeeping of every send.
//
// Latency is taken end to end: from just before a send is queued on the
// sender's socket to the push's arrival on a recipient's socket (same
// process, monotonic clock). Pacing lag (how late the generator sent
// against the schedule) is recorded apart, so that a generator that cannot
// keep up is visible rather than hidden in the server's figures.
//
// Single-threaded: every method runs on the io_context's thread, which the
// caller runs. Lives until that io_context has stopped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "common/status.h"
#include "load/config.h"
#include "load/delivery_checker.h"
#include "load/histogram.h"
#include "load/json_frame.h"
#include "load/process_stats.h"
#include "load/server_target.h"
#include "load/setup.h"
#include "load/ws_client.h"

namespace parley::bench {

enum class LoadMode { kIdle, kP2p, kGroup };

// What one event loop drives: users (with their tokens) and, for the group
// mode, groups whose members are all among those users.
struct LoadShare {
  std::vector<BenchUser> users;
  std::vector<BenchGroup> groups;  // members index into `users`
  uint32_t first_connection = 0;   // this share's offset in the source-address rotation
};

// The result of one step of one loop (merged across loops by the caller).
struct StepStats {
  double offered_rate = 0;          // sends/s asked of this loop
  uint64_t measured_sends = 0;      // sends scheduled in the measured window
  uint64_t measured_expected = 0;   // deliveries those sends owe
  uint64_t measured_delivered = 0;  // deliveries of them received by the end of grace
  uint64_t measured_acked = 0;
  uint64_t refused = 0;         // error frames (all sends of the step)
  uint64_t skipped_closed = 0;  // sends not made: the sender's socket had closed
  uint64_t outstanding_after_grace = 0;
  bool drained = true;  // everything in before the drain timeout
  // Acks and pushes received (of any step) while the window's sends went
  // out: what the server got done in that time, also when it fell behind.
  uint64_t window_acks = 0;
  uint64_t window_deliveries = 0;
  double window_s = 0;     // measured window, as configured
  double send_span_s = 0;  // from window start to the last measured send
  Histogram e2e;           // send -> push received, measured sends (also late ones)
  Histogram ack;           // send -> ack, measured sends (also late ones)
  Histogram lag;           // actual - scheduled send time
  // Sampled around the measured window by the loop asked to (see RunStep).
  CpuSample cpu_start;
  CpuSample cpu_end;

  void Merge(const StepStats& o);
};

class MessageLoad : public WsHandler {
 public:
  MessageLoad(boost::asio::io_context& io, const BenchConfig& cfg, LoadMode mode, LoadShare share,
              uint64_t seed);
  ~MessageLoad() override;

  // Opens every connection (at most cfg.connect_concurrency handshakes at
  // once) and waits for each one's hello. Fails on any refusal or timeout.
  boost::asio::awaitable<Status> Connect(const ServerTarget& target);

  // One step at `rate` sends/s: warm-up, measured window, grace, drain.
  // `sample_cpu`: take the CpuSamples (one loop does, for the process).
  boost::asio::awaitable<StepStats> RunStep(double rate, uint16_t step, bool sample_cpu);

  // Holds the connections open for `seconds` (idle scenario).
  boost::asio::awaitable<void> Hold(double seconds);

  // The final account of every send (call after the loop has stopped).
  DeliveryTally Finish() const { return checker_.Finish(); }
  size_t connections() const { return clients_.size(); }
  uint64_t closed_during_run() const { return closed_during_run_; }
  const std::string& first_close_reason() const { return first_close_reason_; }
  uint64_t bad_frames() const { return bad_frames_; }
  // Error frames by code.
  const std::map<std::string, uint64_t>& errors() const { return errors_; }

  // WsHandler.
  void OnOpen(WsClient& c) override;
  void OnText(WsClient& c, std::string_view text) override;
  void OnClosed(WsClient& c, const std::string& why) override;

 private:
  void StartConnections();
  void SendOne(int64_t now_ns, bool measured);
  void OnPush(WsClient& c, const boost::json::object& o, int64_t now);
  void OnAck(const boost::json::object& o, int64_t now);
  void OnError(const boost::json::object& o);

  boost::asio::io_context& io_;
  const BenchConfig& cfg_;
  LoadMode mode_;
  LoadShare share_;
  uint32_t devices_;
  std::vector<uint32_t> group_of_user_;  // group mode: index into share_.groups
  std::vector<std::unique_ptr<WsClient>> clients_;
  DeliveryChecker checker_;
  JsonFrame json_;
  std::mt19937_64 rng_;
  std::vector<uint32_t> order_;  // senders, shuffled each round
  size_t order_pos_ = 0;
  std::string frame_;  // the send frame being built; keeps its capacity
  std::string pad_;    // body padding

  // Connecting.
  const ServerTarget* target_ = nullptr;
  bool connecting_ = false;
  size_t next_to_connect_ = 0;
  size_t handshakes_in_flight_ = 0;
  size_t hellos_ = 0;
  size_t connect_failures_ = 0;
  std::vector<bool> has_hello_;
  std::string first_connect_error_;

  // Running.
  StepStats* stats_ = nullptr;  // the step in progress, if any
  uint16_t step_ = 0;
  bool in_grace_ = true;  // window or grace, not yet the drain
  uint64_t acks_ = 0;     // acks and deliveries received, all steps
  uint64_t deliveries_ = 0;
  uint64_t closed_during_run_ = 0;
  std::string first_close_reason_;
  uint64_t bad_frames_ = 0;
  std::map<std::string, uint64_t> errors_;
};

}  // namespace parley::bench

// The storm scenario: every client drops its WebSocket at once, messages
// are sent to them over HTTP while they are away, then all reconnect at
// once and catch up the way docs/wire-protocol.md tells a client to: compare each
// conversation's last_seq in `hello` with the highest seq it holds, and
// `sync` from there (paging while has_more). Measures the time from the
// reconnect until the last client holds every message, and checks that each
// got every seq exactly once, in order.
//
// Single-threaded: runs on one io_context.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "common/status.h"
#include "load/config.h"
#include "load/flat_map.h"
#include "load/histogram.h"
#include "load/json_frame.h"
#include "load/server_target.h"
#include "load/setup.h"
#include "load/ws_client.h"

namespace parley::bench {

struct StormResult {
  uint32_t clients = 0;
  uint64_t offline_messages = 0;  // sent over HTTP while everyone was away
  double offline_send_s = 0;
  double catch_up_s = 0;  // reconnect start -> last client caught up
  Histogram per_client;   // reconnect start -> that client caught up, ns
  Histogram hello;        // reconnect start -> that client's hello, ns
  uint64_t syncs = 0;     // sync requests made
  uint64_t synced = 0;    // messages received through sync
  uint64_t expected = 0;  // messages the clients should have synced
  uint64_t lost = 0;      // acked seqs a client never got
  uint64_t duplicated = 0;
  uint64_t out_of_order = 0;
  uint64_t not_caught_up = 0;  // clients still behind at the timeout
  uint64_t failures = 0;       // reconnects that failed
  uint64_t errors = 0;         // error frames (e.g. a refused sync)
  std::string first_failure;

  bool clean() const {
    return lost == 0 && duplicated == 0 && out_of_order == 0 && not_caught_up == 0 &&
           failures == 0 && errors == 0;
  }
};

class StormLoad : public WsHandler {
 public:
  StormLoad(boost::asio::io_context& io, const BenchConfig& cfg, std::vector<BenchUser> users);
  ~StormLoad() override;

  boost::asio::awaitable<StatusOr<StormResult>> Run(const ServerTarget& target);

  void OnOpen(WsClient& c) override;
  void OnText(WsClient& c, std::string_view text) override;
  void OnClosed(WsClient& c, const std::string& why) override;

 private:
  enum class Phase { kConnecting, kAway, kStorm, kDone };
  struct ClientState {
    FlatMap known{8};  // conv -> highest seq held
    uint32_t pending_syncs = 0;
    bool hello = false;
    bool caught_up = false;
  };

  void StartConnections();
  void OnHello(WsClient& c, const boost::json::object& o, int64_t now);
  void OnSync(WsClient& c, const boost::json::object& o, int64_t now);
  void RequestSync(WsClient& c, std::string_view conv, uint64_t after);
  void MarkCaughtUp(uint32_t client, int64_t now);

  boost::asio::io_context& io_;
  const BenchConfig& cfg_;
  std::vector<BenchUser> users_;
  uint32_t devices_;
  std::vector<std::unique_ptr<WsClient>> clients_;
  std::vector<ClientState> state_;
  std::vector<FlatMap> expected_;  // per user: conv -> last seq acked over HTTP
  JsonFrame json_;
  const ServerTarget* target_ = nullptr;
  Phase phase_ = Phase::kConnecting;
  size_t next_to_connect_ = 0;
  size_t in_flight_ = 0;
  size_t hellos_ = 0;
  size_t caught_up_ = 0;
  int64_t storm_start_ = 0;
  int64_t last_caught_up_ = 0;
  StormResult result_;
};

}  // namespace parley::bench

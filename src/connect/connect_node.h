// ConnectNode: the connect tier of one process. It takes WebSocket upgrades
// (UpgradeHandler) from its own WsListener or, in embedded mode, from the api
// tier's HTTP server, keeps the live sessions, and serves ConnectService
// (Push, Kick) for the task and logic tiers.
//
// Bounds (options.conn): upgrades beyond ws_connections_max in total or
// ws_connections_per_ip_max from one address are refused before logic is
// asked, beyond ws_connections_per_user_max once logic named the user. One
// periodic sweep (every sweep_interval_ms) closes sessions whose token
// expired (4001) and sessions whose write made no progress for
// write_stall_timeout_ms (4008): no timer per connection.
//
// Thread-safety: every public method may be called from any thread. The
// io_context behind `executor` may be run by several threads; each session
// runs on a strand of its own. Lifetime: held by shared_ptr (Create), so that
// a ConnectDirectory can hand it out; `options`, `logic`, `metrics` and
// `clock` outlive it; its last owner lets go only once its io_context holds
// no handler any more (after Drain's `done`, the io_context ran out of work),
// as sessions refer to it and a queued handler keeps its session alive.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "common/clock.h"
#include "common/connection_limiter.h"
#include "common/metrics.h"
#include "common/options.h"
#include "connect/connect_service.h"
#include "connect/connection_registry.h"
#include "connect/ws_session.h"
#include "connect/ws_upgrade_handler.h"
#include "logic/logic_service.h"

namespace parley::connect {

class ConnectNode final : public ConnectService,
                          public UpgradeHandler,
                          public std::enable_shared_from_this<ConnectNode> {
  struct Passkey {};

 public:
  // `node_id` names this node to logic (presence) and in push origins;
  // `node_epoch` tells this incarnation of it apart from earlier ones (its
  // discovery registration's epoch), in presence records. `executor` must be
  // an io_context's (io_context::get_executor()).
  static std::shared_ptr<ConnectNode> Create(boost::asio::any_io_executor executor,
                                             std::string node_id, uint64_t node_epoch,
                                             const Options& options, logic::LogicService& logic,
                                             Metrics& metrics, const Clock& clock);
  ConnectNode(Passkey, boost::asio::any_io_executor executor, std::string node_id,
              uint64_t node_epoch, const Options& options, logic::LogicService& logic,
              Metrics& metrics, const Clock& clock);
  ~ConnectNode() override;

  ConnectNode(const ConnectNode&) = delete;
  ConnectNode& operator=(const ConnectNode&) = delete;

  // Authenticates `request` (bearer header or ?token=) through logic and
  // upgrades, or answers with the HTTP error of PROTOCOL.md and closes: 429
  // rate_limited (per-IP or per-user cap) or 503 unavailable (node full),
  // with Retry-After.
  void Upgrade(boost::beast::tcp_stream stream,
               boost::beast::http::request<boost::beast::http::string_body> request,
               boost::beast::flat_buffer buffer) override;

  // `done` runs on the node's executor; delivered = frames queued.
  void Push(rpc::PushRequest req, Callback<rpc::PushReply> done) override;
  // Closes without flushing; a close_code of 0 means 4001. `done` runs on the
  // node's executor; closed = sessions told to close.
  void Kick(rpc::KickRequest req, Callback<rpc::KickReply> done) override;

  // Stops: refuses new upgrades, closes every WebSocket with 1001 (going
  // away) after flushing its queue, waits until all of them ended or
  // options.conn.drain_timeout_ms passed (then cuts the rest off), then
  // calls `done` on the executor. Call once. Stops the sweep.
  void Drain(std::function<void()> done);

  // The addresses of the cluster's own proxies (the api's /ws): connections
  // from them are not counted per IP here, since the proxy caps each client
  // address itself. Thread-safe; replaces the previous set.
  void SetProxyAddresses(std::vector<std::string> addresses);

  // For /readyz: OK unless draining or logic is not ready. `done` runs on a
  // thread of logic's.
  void Ready(Callback<Status> done);

  // Registered sessions (including ones completing their handshake).
  size_t connection_count() const;
  const std::string& node_id() const { return env_.node_id; }
  uint64_t node_epoch() const { return env_.node_epoch; }

 private:
  void CheckDrained();   // on drain_strand_
  void ScheduleSweep();  // on drain_strand_
  void Sweep();          // on drain_strand_
  bool IsProxy(const std::string& address) const;

  boost::asio::any_io_executor executor_;
  boost::asio::io_context& io_;  // executor_'s: sessions get strands of it
  const Clock& clock_;
  Metrics& metrics_;
  ConnectionRegistry registry_;
  ConnectionLimiter limiter_;  // total and per client IP
  SessionEnv env_;
  std::atomic<uint64_t> next_conn_id_{1};

  // Drain state, used only on drain_strand_.
  boost::asio::strand<boost::asio::any_io_executor> drain_strand_;
  boost::asio::steady_timer drain_timer_;
  std::function<void()> drain_done_;
  boost::asio::steady_timer sweep_timer_;
  bool sweeping_ = true;  // false once draining

  mutable std::mutex proxies_mu_;
  std::unordered_set<std::string> proxies_;  // guarded by proxies_mu_
  std::atomic<bool> has_proxies_{false};     // skips the lock when there are none
};

}  // namespace parley::connect

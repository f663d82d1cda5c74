#include "connect/connect_node.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "common/logging.h"
#include "connect/frame_codec.h"

namespace parley::connect {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {
asio::io_context& IoContextOf(const asio::any_io_executor& executor) {
  const auto* io_executor = executor.target<asio::io_context::executor_type>();
  if (io_executor == nullptr) {
    spdlog::critical("ConnectNode needs an io_context's executor");
    std::abort();
  }
  return io_executor->context();
}

}  // namespace

std::shared_ptr<ConnectNode> ConnectNode::Create(asio::any_io_executor executor,
                                                 std::string node_id, uint64_t node_epoch,
                                                 const Options& options, logic::LogicService& logic,
                                                 Metrics& metrics, const Clock& clock) {
  auto node = std::make_shared<ConnectNode>(Passkey{}, std::move(executor), std::move(node_id),
                                            node_epoch, options, logic, metrics, clock);
  asio::post(node->drain_strand_, [weak = std::weak_ptr<ConnectNode>(node)] {
    if (auto n = weak.lock()) n->ScheduleSweep();
  });
  return node;
}

ConnectNode::ConnectNode(Passkey, asio::any_io_executor executor, std::string node_id,
                         uint64_t node_epoch, const Options& options, logic::LogicService& logic,
                         Metrics& metrics, const Clock& clock)
    : executor_(std::move(executor)),
      io_(IoContextOf(executor_)),
      clock_(clock),
      metrics_(metrics),
      limiter_({.total = ConnectionLimiter::CapByOpenFiles(options.conn.ws_connections_max, 1),
                .per_key = options.conn.ws_connections_per_ip_max}),
      env_(std::move(node_id), node_epoch, options, logic, metrics, clock, registry_),
      drain_strand_(asio::make_strand(executor_)),
      drain_timer_(drain_strand_),
      sweep_timer_(drain_strand_) {
  env_.on_finished = [this] {
    if (env_.draining.load()) asio::post(drain_strand_, [this] { CheckDrained(); });
  };
}

ConnectNode::~ConnectNode() = default;

void ConnectNode::Upgrade(beast::tcp_stream stream,
                          beast::http::request<beast::http::string_body> request,
                          beast::flat_buffer buffer) {
  const uint64_t conn_id = next_conn_id_.fetch_add(1, std::memory_order_relaxed);
  // Move the connection onto a strand of its own: the io_context may be run
  // by several threads, and Beast's internal operations (pings, timeouts)
  // use the socket's executor.
  auto accepted = stream.release_socket();
  beast::error_code ec;
  auto endpoint = accepted.local_endpoint(ec);
  if (ec) {
    spdlog::debug("event=ws_upgrade_dropped conn={} err=\"{}\"", conn_id, ec.message());
    return;  // the peer is already gone
  }
  auto fd = accepted.release(ec);
  if (ec) {
    spdlog::warn("event=ws_upgrade_dropped conn={} err=\"{}\"", conn_id, ec.message());
    return;
  }
  WsSession::Socket socket(asio::make_strand(io_.get_executor()));
  socket.assign(endpoint.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    spdlog::warn("event=ws_upgrade_dropped conn={} err=\"{}\"", conn_id, ec.message());
    return;
  }
  std::string address;
  if (auto remote = socket.remote_endpoint(ec); !ec) address = remote.address().to_string();
  const bool count_address = !address.empty() && !IsProxy(address);
  auto admission = limiter_.Admit(std::move(address), count_address);
  auto session = std::make_shared<WsSession>(env_, std::move(socket), conn_id, NewRequestId());
  session->Start(std::move(request), std::move(buffer), std::move(admission));
}

void ConnectNode::Push(rpc::PushRequest req, Callback<rpc::PushReply> done) {
  const int64_t now_ms = clock_.NowMs();
  uint64_t delivered = 0;
  std::vector<uint64_t> users;
  std::vector<ConnectionRegistry::Target> targets;
  for (const rpc::PushEvent& event : req.events()) {
    Frame frame;
    const std::string* origin_node = nullptr;
    uint64_t origin_conn = 0;
    const rpc::ChatMessage* msg = nullptr;
    switch (event.event_case()) {
      case rpc::PushEvent::kMsg:
        msg = &event.msg();
        frame = std::make_shared<const std::string>(MsgFrame(*msg));
        origin_node = &msg->origin_node();
        origin_conn = msg->origin_conn();
        break;
      case rpc::PushEvent::kRead:
        frame = std::make_shared<const std::string>(ReadFrame(event.read()));
        origin_node = &event.read().origin_node();
        origin_conn = event.read().origin_conn();
        break;
      default:
        continue;
    }
    // The origin connection got an ack (or nothing, for a read) instead.
    const bool skip_origin = origin_conn != 0 && *origin_node == env_.node_id;
    // A user listed twice (p:a:a) still gets the frame once per connection.
    users.assign(event.user_ids().begin(), event.user_ids().end());
    std::sort(users.begin(), users.end());
    users.erase(std::unique(users.begin(), users.end()), users.end());
    uint64_t queued = 0;
    for (uint64_t user : users) {
      registry_.SessionsOf(user, targets);
      for (const ConnectionRegistry::Target& t : targets) {
        if (skip_origin && t.conn_id == origin_conn) continue;
        t.session->Enqueue(frame);
        ++queued;
      }
    }
    targets.clear();
    delivered += queued;
    if (msg != nullptr && queued > 0) {
      metrics_.messages_pushed.Inc(queued);
      metrics_.push_latency.ObserveNs(std::max<int64_t>(0, now_ms - msg->ts()) * 1'000'000);
    }
  }
  rpc::PushReply reply;
  reply.set_delivered(delivered);
  asio::post(executor_, [done = std::move(done), reply = std::move(reply)]() mutable {
    done(std::move(reply));
  });
}

namespace {
// Revoked session keys a node remembers (ConnectionRegistry::MarkRevoked):
// about 100 bytes each. Logouts come at most as fast as logins, which are
// rate-limited; past this the oldest are forgotten first.
constexpr size_t kRevokedKeysMax = 100'000;
}  // namespace

void ConnectNode::Kick(rpc::KickRequest req, Callback<rpc::KickReply> done) {
  if (!req.session_key().empty()) {
    // A Connect of this session still in flight registers later and is
    // refused then (ConnectionRegistry::WasRevoked). It started before its
    // deadline, so twice the call timeout covers it.
    const int64_t now = env_.clock.NowMs();
    const int64_t remember_ms =
        std::max<int64_t>(60'000, 2 * int64_t{env_.options.conn.logic_call_timeout_ms});
    registry_.MarkRevoked(req.session_key(), now, now + remember_ms, kRevokedKeysMax);
  }
  auto sessions = registry_.Matching(req.user_id(), req.session_key());
  const uint16_t code =
      req.close_code() != 0 ? static_cast<uint16_t>(req.close_code()) : kCloseUnauthenticated;
  for (const auto& session : sessions) session->Close(code, req.reason(), /*flush=*/false);
  spdlog::info("event=ws_kick user={} closed={} code={}", req.user_id(), sessions.size(), code);
  rpc::KickReply reply;
  reply.set_closed(sessions.size());
  asio::post(executor_, [done = std::move(done), reply = std::move(reply)]() mutable {
    done(std::move(reply));
  });
}

void ConnectNode::Drain(std::function<void()> done) {
  // Set before the snapshot below: a session registering concurrently either
  // is in the snapshot or sees the flag (WsSession::OnConnected).
  env_.draining.store(true);
  asio::post(drain_strand_, [this, done = std::move(done)]() mutable {
    // The io_context runs out of work once the sessions are gone: the sweep
    // must not keep it busy.
    sweeping_ = false;
    sweep_timer_.cancel();
    drain_done_ = std::move(done);
    auto sessions = registry_.All();
    spdlog::info("event=drain_start connections={}", sessions.size());
    for (const auto& session : sessions) {
      session->Close(kCloseGoingAway, "going away", /*flush=*/true);
    }
    drain_timer_.expires_after(std::chrono::milliseconds(env_.options.conn.drain_timeout_ms));
    drain_timer_.async_wait(asio::bind_executor(drain_strand_, [this](beast::error_code ec) {
      if (ec || !drain_done_) return;
      auto left = registry_.All();
      spdlog::info("event=drain_timeout connections={}", left.size());
      for (const auto& session : left) session->Abort();
      asio::post(executor_, std::exchange(drain_done_, nullptr));
    }));
    CheckDrained();
  });
}

void ConnectNode::CheckDrained() {
  if (!drain_done_ || registry_.size() != 0) return;
  spdlog::info("event=drain_done");
  drain_timer_.cancel();
  asio::post(executor_, std::exchange(drain_done_, nullptr));
}

void ConnectNode::ScheduleSweep() {
  if (!sweeping_) return;
  const uint32_t interval = std::max<uint32_t>(env_.options.conn.sweep_interval_ms, 1);
  sweep_timer_.expires_after(std::chrono::milliseconds(interval));
  sweep_timer_.async_wait(
      asio::bind_executor(drain_strand_, [weak = weak_from_this()](beast::error_code ec) {
        auto node = weak.lock();
        if (ec || !node || !node->sweeping_) return;
        node->Sweep();
        node->ScheduleSweep();
      }));
}

void ConnectNode::Sweep() {
  const int64_t now_ms = clock_.NowMs();
  const int64_t now_mono_ms = clock_.MonotonicNs() / 1'000'000;
  const uint32_t stall_ms = env_.options.conn.write_stall_timeout_ms;
  std::vector<std::shared_ptr<WsSession>> expired;
  std::vector<std::shared_ptr<WsSession>> stalled;
  registry_.Scan([&](int64_t expires_at, const std::shared_ptr<WsSession>& session) {
    if (session->closing()) return;
    if (expires_at != 0 && expires_at <= now_ms) {
      expired.push_back(session);
      return;
    }
    if (stall_ms == 0) return;
    const int64_t since = session->write_pending_since_ms();
    if (since != 0 && now_mono_ms - since >= stall_ms) stalled.push_back(session);
  });
  // A session closing already ignores a second Close; it leaves the registry
  // once its close completes (or its close deadline cuts it off).
  for (const auto& session : expired) {
    spdlog::info("event=ws_token_expired conn={}", session->conn_id());
    session->Close(kCloseUnauthenticated, "token expired", /*flush=*/false);
  }
  for (const auto& session : stalled) {
    metrics_.ws_closed_slow.Inc();
    spdlog::info("event=ws_slow_consumer conn={} over=write_stall stall_ms={}", session->conn_id(),
                 stall_ms);
    session->Close(kClosePolicy, "slow consumer", /*flush=*/false);
  }
}

void ConnectNode::SetProxyAddresses(std::vector<std::string> addresses) {
  std::lock_guard lock(proxies_mu_);
  proxies_ = std::unordered_set<std::string>(addresses.begin(), addresses.end());
  has_proxies_.store(!proxies_.empty());
}

bool ConnectNode::IsProxy(const std::string& address) const {
  if (!has_proxies_.load()) return false;
  std::lock_guard lock(proxies_mu_);
  return proxies_.contains(address);
}

void ConnectNode::Ready(Callback<Status> done) {
  if (env_.draining.load()) {
    done(Status::Unavailable("connect node is draining"));
    return;
  }
  logic::CallContext ctx;
  ctx.request_id = NewRequestId();
  ctx.origin_node = env_.node_id;
  const uint32_t timeout = env_.options.conn.logic_call_timeout_ms;
  if (timeout > 0) ctx.deadline_ms = clock_.NowMs() + timeout;
  env_.logic.Ready(std::move(ctx), std::move(done));
}

size_t ConnectNode::connection_count() const { return registry_.size(); }

}  // namespace parley::connect

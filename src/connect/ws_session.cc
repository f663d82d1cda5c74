#include "connect/ws_session.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "common/json_error.h"
#include "common/logging.h"
#include "common/stable_hash.h"
#include "wire/bearer_token.h"

namespace parley::connect {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// The first read of a message asks for this little, so that an idle
// connection holds a small read buffer; bigger messages grow it as needed.
constexpr size_t kFirstReadBytes = 256;
// A read buffer grown past this by a big message is given back afterwards.
constexpr size_t kKeepReadBytes = 4096;
// retry_after_ms of a send or call refused because too many wait.
constexpr int64_t kBusyRetryAfterMs = 100;
// Retry-After (seconds) of an upgrade refused by a connection cap or because
// the node is unavailable: long enough that a client in a reconnect loop does
// not hammer a full node.
constexpr int kRefusedRetryAfterS = 5;
// Beast's own read buffer (tcp_frame_size): the most that can be handed to
// the handshake together with the request.
constexpr size_t kMaxHandshakeBytes = 1536;
// RFC 6455: a close reason is at most 123 bytes.
constexpr size_t kMaxCloseReason = 123;

bool IsQuietError(const beast::error_code& ec) {
  return ec == websocket::error::closed || ec == asio::error::eof ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == beast::error::timeout || ec == asio::error::bad_descriptor ||
         ec == asio::error::broken_pipe;
}

}  // namespace

WsSession::WsSession(SessionEnv& env, Socket socket, uint64_t conn_id, std::string request_id)
    : env_(env),
      conn_id_(conn_id),
      request_id_(std::move(request_id)),
      ws_(std::move(socket)),
      queue_(&env.outbound_bytes) {}

WsSession::~WsSession() = default;

template <typename Fn>
void WsSession::Post(Fn fn) {
  asio::post(ws_.get_executor(),
             [self = shared_from_this(), fn = std::move(fn)]() mutable { fn(); });
}

// ---- upgrade ----

void WsSession::Start(Request request, beast::flat_buffer leftover,
                      StatusOr<ConnectionLimiter::Lease> admission) {
  request_ = std::make_unique<Request>(std::move(request));
  if (leftover.size() > 0) {
    leftover_ = std::make_unique<std::string>(beast::buffers_to_string(leftover.data()));
  }
  Status refused = admission.status();
  if (admission.ok()) lease_ = std::move(admission).value();
  Post([this, refused = std::move(refused)] { DoStart(refused); });
}

void WsSession::DoStart(const Status& refused) {
  if (!refused.ok()) {
    ReplyHttpError(refused);
    return;
  }
  if (!websocket::is_upgrade(*request_)) {
    ReplyHttpError(Status::InvalidArgument("expected a WebSocket upgrade request"));
    return;
  }
  logic::CallContext ctx;
  ctx.token = wire::BearerToken((*request_)[http::field::authorization], request_->target());
  route_key_ = ctx.token.empty() ? 0 : StableHash64(ctx.token);
  ctx.route_key = route_key_;
  if (ctx.token.empty()) {
    ReplyHttpError(Status::Unauthenticated("missing bearer token"));
    return;
  }
  if (env_.draining.load()) {
    ReplyHttpError(Status::Unavailable("this node is shutting down; connect to another one"));
    return;
  }
  ctx.request_id = request_id_;
  beast::error_code ec;
  auto remote = ws_.next_layer().remote_endpoint(ec);
  if (!ec) ctx.client_ip = remote.address().to_string();
  ctx.origin_node = env_.node_id;
  ctx.origin_conn = conn_id_;
  ctx.deadline_ms = Deadline();
  rpc::ConnectRequest req;
  req.set_node_id(env_.node_id);
  req.set_node_epoch(env_.node_epoch);
  req.set_conn_id(conn_id_);
  env_.logic.Connect(
      std::move(ctx), std::move(req), [self = shared_from_this()](rpc::ConnectReply reply) {
        // Joins the registry here, on logic's thread, rather than after a hop
        // to the strand: logic has counted the connection in presence
        // already, and a push that finds no session is lost. No handler of
        // this session runs until OnConnected (it waits for this reply), so
        // setting its state here is safe; frames pushed before OnConnected
        // queue behind where `hello` goes.
        Status refused;
        if (reply.error().code() != rpc::OK) {
          // OnConnected answers with logic's error.
        } else if (self->env_.draining.load()) {
          refused = Status::Unavailable("this node is shutting down; connect to another one");
        } else if (self->env_.registry.Add(reply.user_id(), self->conn_id_, reply.session_key(),
                                           self, reply.expires_at(),
                                           self->env_.options.conn.ws_connections_per_user_max)) {
          if (self->env_.registry.WasRevoked(reply.session_key(), self->env_.clock.NowMs())) {
            // Logged out while this Connect was in flight: the kick went by
            // before this session was there to close.
            self->env_.registry.Remove(reply.user_id(), self->conn_id_);
            refused = Status::Unauthenticated("session revoked");
          } else {
            self->user_id_ = reply.user_id();
            self->session_key_ = reply.session_key();
            self->registered_ = true;
          }
        } else {
          refused = Status::RateLimited("too many connections of this user");
        }
        self->Post(
            [s = self.get(), reply = std::move(reply), refused = std::move(refused)]() mutable {
              s->OnConnected(std::move(reply), refused);
            });
      });
}

int64_t WsSession::Deadline() const {
  const uint32_t timeout = env_.options.conn.logic_call_timeout_ms;
  return timeout == 0 ? 0 : env_.clock.NowMs() + timeout;
}

logic::CallContext WsSession::CallContextForUser() const {
  logic::CallContext ctx;
  ctx.request_id = NewRequestId();
  ctx.user_id = user_id_;
  ctx.session_key = session_key_;
  ctx.route_key = route_key_;
  ctx.origin_node = env_.node_id;
  ctx.origin_conn = conn_id_;
  ctx.deadline_ms = Deadline();
  return ctx;
}

void WsSession::OnConnected(rpc::ConnectReply reply, const Status& refused) {
  if (reply.error().code() != rpc::OK) {
    ReplyHttpError(Status::FromProto(reply.error()));
    return;
  }
  if (!registered_) {
    // The node began draining, the user is at its cap, or the session was
    // revoked meanwhile: logic already counts this connection, so take it
    // back.
    user_id_ = reply.user_id();
    session_key_ = reply.session_key();
    rpc::DisconnectRequest req;
    req.set_node_id(env_.node_id);
    req.set_node_epoch(env_.node_epoch);
    req.set_conn_id(conn_id_);
    env_.logic.Disconnect(CallContextForUser(), std::move(req), [](rpc::DisconnectReply) {});
    spdlog::info("event=ws_not_registered conn={} user={} reason=\"{}\" rid={}", conn_id_, user_id_,
                 refused.message(), request_id_);
    ReplyHttpError(refused);
    return;
  }
  if (!close_requested() || flush_) {  // not kicked in the meantime
    queue_.PushFront(std::make_shared<const std::string>(HelloFrame(user_id_, conn_id_, reply)));
  }
  // A drain that began after the registration may have missed this session
  // in its snapshot of the registry; it closes it here instead.
  if (env_.draining.load()) CloseOnStrand(kCloseGoingAway, "going away", /*flush=*/true);

  const ConnectionOptions& conn = env_.options.conn;
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout =
      std::chrono::milliseconds(std::max<uint32_t>(conn.drain_timeout_ms, 1));
  if (conn.idle_timeout_ms > 0) {
    // Beast pings after half of it without a frame, and closes after all of it.
    timeouts.idle_timeout = std::chrono::milliseconds(conn.idle_timeout_ms);
    timeouts.keep_alive_pings = true;
  } else {
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
  }
  ws_.set_option(timeouts);
  // The frame limit is enforced by counting in OnRead, to close with 4009
  // (Beast's own limit would close with 1009).
  ws_.read_message_max(0);
  ws_.auto_fragment(false);

  state_ = State::kHandshaking;
  auto on_accept = [self = shared_from_this()](beast::error_code ec) { self->OnAccepted(ec); };
  if (leftover_) {
    // The client sent bytes right behind its request (frames, pipelined):
    // hand both to the handshake, which keeps what follows the request.
    std::ostringstream raw;
    raw << *request_ << *leftover_;
    *leftover_ = std::move(raw).str();
    if (leftover_->size() <= kMaxHandshakeBytes) {
      ws_.async_accept(asio::buffer(*leftover_), std::move(on_accept));
      return;
    }
    spdlog::debug("event=ws_leftover_dropped conn={} bytes={} rid={}", conn_id_, leftover_->size(),
                  request_id_);
  }
  ws_.async_accept(*request_, std::move(on_accept));
}

void WsSession::OnAccepted(beast::error_code ec) {
  request_.reset();
  leftover_.reset();
  if (ec) {
    spdlog::debug("event=ws_handshake_failed conn={} user={} err=\"{}\" rid={}", conn_id_, user_id_,
                  ec.message(), request_id_);
    Finish(ec);
    return;
  }
  state_ = close_requested() ? State::kClosing : State::kOpen;
  env_.metrics.ws_opened.Inc();
  env_.metrics.ws_connections.Add(1);
  spdlog::info("event=ws_open conn={} user={} rid={}", conn_id_, user_id_, request_id_);
  ws_.text(true);
  DoRead();
  MaybeWrite();
}

void WsSession::ReplyHttpError(const Status& status) {
  env_.metrics.errors.Inc(status.code());
  spdlog::info("event=ws_refused conn={} code={} status={} msg=\"{}\" rid={}", conn_id_,
               CodeName(status.code()), HttpStatus(status.code()), status.message(), request_id_);
  auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(HttpStatus(status.code())), request_->version());
  res->set(http::field::content_type, "application/json");
  if (status.code() == Code::kUnauthenticated) res->set(http::field::www_authenticate, "Bearer");
  if (status.code() == Code::kRateLimited || status.code() == Code::kUnavailable) {
    res->set(http::field::retry_after, std::to_string(kRefusedRetryAfterS));
  }
  res->keep_alive(false);
  // Logic's internal errors (e.g. a store's own message) stay in the log.
  res->body() =
      ErrorBody(status.code() == Code::kInternal ? Status::Internal("internal error") : status);
  res->prepare_payload();
  request_.reset();
  leftover_.reset();
  http::async_write(ws_.next_layer(), *res,
                    [self = shared_from_this(), res](beast::error_code, size_t) {
                      beast::error_code ignored;
                      self->ws_.next_layer().shutdown(Socket::shutdown_send, ignored);
                      self->ws_.next_layer().close(ignored);
                    });
}

// ---- reading ----

void WsSession::DoRead() {
  if (read_ != ReadState::kIdle || state_ == State::kFinished) return;
  const size_t frame_max = env_.options.limits.ws_frame_max;
  // One byte past the limit is enough to know the message is over it. Within
  // that, ask for what the current frame still holds (Beast's hint), and
  // little at the start of a message, so that an idle connection keeps a
  // small buffer.
  size_t limit = frame_max + 1 - std::min(read_buffer_.size(), frame_max);
  limit = std::min(limit, ws_.read_size_hint(kFirstReadBytes));
  read_ = ReadState::kReading;
  // Into a buffer we prepare ourselves rather than Beast's dynamic-buffer
  // overload: one operation layer less held by every idle connection.
  ws_.async_read_some(
      read_buffer_.prepare(limit),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
}

void WsSession::OnRead(beast::error_code ec, size_t bytes) {
  read_ = ReadState::kIdle;
  read_buffer_.commit(bytes);
  if (ec) {
    Finish(ec);
    return;
  }
  if (read_buffer_.size() > env_.options.limits.ws_frame_max) {
    env_.metrics.ws_closed_violation.Inc();
    spdlog::info("event=ws_frame_too_big conn={} user={} limit={} rid={}", conn_id_, user_id_,
                 env_.options.limits.ws_frame_max, request_id_);
    // The close handshake reads (and discards) the rest of the message.
    read_ = ReadState::kStopped;
    read_buffer_ = beast::flat_buffer();
    CloseOnStrand(kCloseTooBig, "frame over the size limit", /*flush=*/false);
    return;
  }
  if (!ws_.is_message_done()) {
    DoRead();
    return;
  }
  env_.metrics.frames_in.Inc();
  if (!close_requested()) {
    if (ws_.got_text()) {
      auto data = read_buffer_.data();
      HandleText(std::string_view(static_cast<const char*>(data.data()), data.size()));
    } else {
      SendError(std::nullopt,
                Status::InvalidArgument("binary frames are not supported; send JSON text frames"));
    }
  }
  read_buffer_.consume(read_buffer_.size());
  if (read_buffer_.capacity() > kKeepReadBytes) read_buffer_ = beast::flat_buffer();
  DoRead();
}

void WsSession::HandleText(std::string_view text) {
  ClientFrame frame;
  if (Status s = ParseClientFrame(text, env_.options.limits, frame); !s.ok()) {
    SendError(frame.id, s);
    return;
  }
  switch (frame.type) {
    case ClientFrame::Type::kPing: {
      static const Frame kPong = std::make_shared<const std::string>(PongFrame());
      EnqueueOnStrand(kPong);
      return;
    }
    case ClientFrame::Type::kSend:
      HandleSend(frame);
      return;
    case ClientFrame::Type::kSync:
      HandleSync(frame);
      return;
    case ClientFrame::Type::kRead:
      HandleRead(frame);
      return;
  }
}

void WsSession::HandleSend(ClientFrame& frame) {
  if (static_cast<uint32_t>(waiting_sends_.requests_size()) >=
      env_.options.conn.ws_send_pending_max) {
    SendError(frame.id, Status::RateLimited("too many sends waiting on this connection"),
              kBusyRetryAfterMs);
    CountRateViolation();
    return;
  }
  rpc::SendRequest* req = waiting_sends_.add_requests();
  req->set_client_id(std::move(*frame.id));
  if (frame.to_group != 0) {
    req->set_to_group(frame.to_group);
  } else {
    req->set_to_user(frame.to_user);
  }
  req->set_body(std::move(frame.body));
  MaybeSendBatch();
}

void WsSession::MaybeSendBatch() {
  if (!batch_ids_.empty() || waiting_sends_.requests_size() == 0 || close_requested()) return;
  const int max = static_cast<int>(std::max<uint32_t>(env_.options.conn.ws_send_batch_max, 1));
  rpc::SendBatch batch;
  if (waiting_sends_.requests_size() <= max) {
    batch.Swap(&waiting_sends_);
  } else {
    auto* waiting = waiting_sends_.mutable_requests();
    for (int i = 0; i < max; ++i) batch.add_requests()->Swap(waiting->Mutable(i));
    waiting->DeleteSubrange(0, max);
  }
  for (const rpc::SendRequest& req : batch.requests()) batch_ids_.push_back(req.client_id());
  logic::CallContext ctx = CallContextForUser();
  SPDLOG_DEBUG("event=ws_send conn={} user={} sends={} first_id={} rid={}", conn_id_, user_id_,
               batch.requests_size(), batch_ids_.front(), ctx.request_id);
  ++calls_in_flight_;
  std::string rid = ctx.request_id;
  env_.logic.Send(std::move(ctx), std::move(batch),
                  [self = shared_from_this(), rid = std::move(rid)](rpc::SendBatchReply reply) {
                    self->Post([s = self.get(), rid, reply = std::move(reply)]() mutable {
                      s->OnSendBatch(std::move(reply), rid);
                    });
                  });
}

void WsSession::OnSendBatch(rpc::SendBatchReply reply, const std::string& rid) {
  --calls_in_flight_;
  std::vector<std::string> ids;
  ids.swap(batch_ids_);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i < static_cast<size_t>(reply.replies_size())) {
      OnSendReply(ids[i], reply.replies(static_cast<int>(i)), rid);
    } else {
      rpc::SendReply missing;
      Status::Internal("logic answered fewer sends than it was given")
          .ToProto(missing.mutable_error());
      OnSendReply(ids[i], missing, rid);
    }
  }
  ids.clear();
  batch_ids_.swap(ids);  // keeps the vector's capacity for the next batch
  MaybeSendBatch();
  MaybeWrite();  // a closing session may have been waiting for this reply
}

void WsSession::OnSendReply(const std::string& id, const rpc::SendReply& reply,
                            const std::string& rid) {
  if (reply.error().code() == rpc::OK) {
    rate_violations_ = 0;
    // Even while closing with a flush: the message exists, so its ack must
    // not be lost.
    EnqueueOnStrand(std::make_shared<const std::string>(AckFrame(id, reply)),
                    /*is_ack=*/true);
    return;
  }
  Status status = Status::FromProto(reply.error());
  SendError(id, status, reply.error().retry_after_ms(), rid);
  if (status.code() == Code::kRateLimited) CountRateViolation();
}

void WsSession::CountRateViolation() {
  const uint32_t max = env_.options.rate.ws_violations_before_close;
  if (max == 0 || ++rate_violations_ < max || close_requested()) return;
  env_.metrics.ws_closed_violation.Inc();
  spdlog::info("event=ws_rate_violations conn={} user={} count={} rid={}", conn_id_, user_id_,
               rate_violations_, request_id_);
  CloseOnStrand(kClosePolicy, "rate limited", /*flush=*/true);
}

void WsSession::HandleSync(ClientFrame& frame) {
  if (calls_in_flight_ >= env_.options.conn.ws_calls_in_flight_max) {
    SendError(frame.id, Status::RateLimited("too many requests in flight"), kBusyRetryAfterMs);
    return;
  }
  rpc::SyncRequest req;
  req.set_conv(frame.conv);
  req.set_after_seq(frame.after_seq);
  req.set_has_after(true);
  req.set_limit(frame.limit);
  ++calls_in_flight_;
  logic::CallContext ctx = CallContextForUser();
  std::string rid = ctx.request_id;
  env_.logic.Sync(std::move(ctx), std::move(req),
                  [self = shared_from_this(), id = std::move(frame.id), rid = std::move(rid),
                   conv = std::move(frame.conv)](rpc::SyncReply reply) {
                    self->Post([s = self.get(), id, rid, conv, reply = std::move(reply)]() mutable {
                      --s->calls_in_flight_;
                      if (reply.error().code() != rpc::OK) {
                        s->SendError(id, Status::FromProto(reply.error()),
                                     reply.error().retry_after_ms(), rid);
                      } else {
                        if (reply.conv().empty()) reply.set_conv(conv);
                        s->EnqueueOnStrand(std::make_shared<const std::string>(SyncFrame(reply)));
                      }
                      s->MaybeWrite();
                    });
                  });
}

void WsSession::HandleRead(ClientFrame& frame) {
  if (calls_in_flight_ >= env_.options.conn.ws_calls_in_flight_max) {
    SendError(frame.id, Status::RateLimited("too many requests in flight"), kBusyRetryAfterMs);
    return;
  }
  rpc::ReadRequest req;
  req.set_conv(std::move(frame.conv));
  req.set_seq(frame.seq);
  logic::CallContext ctx = CallContextForUser();
  SPDLOG_DEBUG("event=ws_read conn={} user={} conv={} seq={} rid={}", conn_id_, user_id_,
               req.conv(), req.seq(), ctx.request_id);
  ++calls_in_flight_;
  std::string rid = ctx.request_id;
  env_.logic.Read(std::move(ctx), std::move(req),
                  [self = shared_from_this(), id = std::move(frame.id),
                   rid = std::move(rid)](rpc::ReadReply reply) {
                    self->Post([s = self.get(), id, rid, reply = std::move(reply)] {
                      --s->calls_in_flight_;
                      if (reply.error().code() != rpc::OK) {
                        s->SendError(id, Status::FromProto(reply.error()),
                                     reply.error().retry_after_ms(), rid);
                      }
                      s->MaybeWrite();
                    });
                  });
}

// ---- writing ----

void WsSession::SendError(const std::optional<std::string>& id, const Status& status,
                          int64_t retry_after_ms, std::string_view rid) {
  env_.metrics.errors.Inc(status.code());
  if (rid.empty()) rid = request_id_;
  const Status* shown = &status;
  if (status.code() == Code::kInternal) {
    static const Status kInternal = Status::Internal("internal error");
    shown = &kInternal;
    spdlog::warn("event=ws_error conn={} user={} code={} msg=\"{}\" rid={}", conn_id_, user_id_,
                 CodeName(status.code()), status.message(), rid);
  } else if (status.code() == Code::kUnavailable) {
    static const Status kUnavailable = Status::Unavailable("temporarily unavailable; retry");
    shown = &kUnavailable;
    spdlog::info("event=ws_error conn={} user={} code={} msg=\"{}\" rid={}", conn_id_, user_id_,
                 CodeName(status.code()), status.message(), rid);
  } else {
    spdlog::debug("event=ws_error conn={} user={} code={} msg=\"{}\" rid={}", conn_id_, user_id_,
                  CodeName(status.code()), status.message(), rid);
  }
  EnqueueOnStrand(std::make_shared<const std::string>(ErrorFrame(id, *shown, retry_after_ms)));
}

void WsSession::Enqueue(Frame frame) {
  Post([this, frame = std::move(frame)]() mutable { EnqueueOnStrand(std::move(frame)); });
}

void WsSession::EnqueueOnStrand(Frame frame, bool is_ack) {
  if (state_ == State::kCloseSent || state_ == State::kFinished) return;
  if (close_requested() && !(flush_ && is_ack)) return;
  const ConnectionOptions& conn = env_.options.conn;
  const bool over_own = queue_.bytes() + frame->size() > conn.outbound_queue_max_bytes;
  // Over the node's budget, the sessions that fall behind give way: one with
  // nothing waiting still gets its frame (the overshoot is at most a frame
  // per session), one with frames waiting is closed.
  const bool over_node =
      !queue_.empty() && conn.outbound_total_max_bytes != 0 &&
      static_cast<uint64_t>(env_.outbound_bytes.load(std::memory_order_relaxed)) + frame->size() >
          conn.outbound_total_max_bytes;
  if (over_own || over_node) {
    env_.metrics.ws_closed_slow.Inc();
    spdlog::info(
        "event=ws_slow_consumer conn={} user={} queued_bytes={} frames={} node_bytes={} "
        "over={} rid={}",
        conn_id_, user_id_, queue_.bytes(), queue_.size(), env_.outbound_bytes.load(),
        over_own ? "connection" : "node", request_id_);
    CloseOnStrand(kClosePolicy, "slow consumer", /*flush=*/false);
    return;
  }
  queue_.Push(std::move(frame));
  MaybeWrite();
}

void WsSession::MaybeWrite() {
  if ((state_ != State::kOpen && state_ != State::kClosing) || writing_) return;
  if (queue_.empty()) {
    // A flushing close also waits for the replies of logic calls in flight.
    if (state_ == State::kClosing && (!flush_ || calls_in_flight_ == 0)) StartCloseHandshake();
    return;
  }
  writing_ = true;
  write_started_ms_.store(std::max<int64_t>(env_.clock.MonotonicNs() / 1'000'000, 1),
                          std::memory_order_relaxed);
  // Beast writes one WebSocket message per call, so each frame is a write of
  // its own. The queue keeps frames in order and contiguous, so that a writer
  // framing several messages into one socket write can replace this one.
  ws_.async_write(asio::buffer(*queue_.Front()),
                  [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
}

void WsSession::OnWrite(beast::error_code ec) {
  writing_ = false;
  write_started_ms_.store(0, std::memory_order_relaxed);
  if (!queue_.empty()) queue_.PopFront();
  if (ec) {
    Finish(ec);
    return;
  }
  MaybeWrite();
}

// ---- closing ----

void WsSession::Close(uint16_t code, std::string reason, bool flush) {
  Post([this, code, reason = std::move(reason), flush]() mutable {
    CloseOnStrand(code, std::move(reason), flush);
  });
}

void WsSession::Abort() {
  Post([this] {
    if (state_ == State::kFinished) return;
    Finish(asio::error::operation_aborted);
  });
}

void WsSession::CloseOnStrand(uint16_t code, std::string reason, bool flush) {
  if (close_requested() || state_ == State::kFinished) return;
  closing_.store(true, std::memory_order_relaxed);
  flush_ = flush;
  close_code_ = code;
  if (reason.size() > kMaxCloseReason) reason.resize(kMaxCloseReason);
  close_reason_ = std::move(reason);
  if (!flush) queue_.Clear(/*keep_front=*/writing_);
  // Sends not yet given to logic are dropped: unacknowledged, the client
  // resends them (same id) on its next connection.
  waiting_sends_.Clear();
  // A peer that neither drains its queue nor answers the close is cut off.
  close_deadline_ = std::make_unique<Timer>(ws_.get_executor());
  close_deadline_->expires_after(
      std::chrono::milliseconds(std::max<uint32_t>(env_.options.conn.drain_timeout_ms, 1)));
  close_deadline_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->state_ == State::kFinished) return;
    spdlog::info("event=ws_close_timeout conn={} user={} rid={}", self->conn_id_, self->user_id_,
                 self->request_id_);
    self->Finish(beast::error::timeout);
  });
  // Before the handshake completed, OnAccepted picks this up.
  if (state_ == State::kOpen) {
    state_ = State::kClosing;
    MaybeWrite();
  }
}

void WsSession::StartCloseHandshake() {
  state_ = State::kCloseSent;
  if (!ws_.is_open()) {
    // The peer's close (or a failure) got there first; the read in flight
    // completes the session.
    if (read_ != ReadState::kReading) Finish({});
    return;
  }
  ws_.async_close(
      websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
      [self = shared_from_this()](beast::error_code ec) { self->Finish(ec); });
}

void WsSession::Finish(beast::error_code ec) {
  if (state_ == State::kFinished) return;
  const bool opened =
      state_ == State::kOpen || state_ == State::kClosing || state_ == State::kCloseSent;
  state_ = State::kFinished;
  closing_.store(true, std::memory_order_relaxed);
  waiting_sends_.Clear();
  queue_.Clear(/*keep_front=*/writing_);
  read_buffer_ = beast::flat_buffer();
  if (close_deadline_) close_deadline_->cancel();
  lease_.reset();
  // Pending operations complete with errors and release the session.
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).close(ignored);

  if (opened) {
    env_.metrics.ws_connections.Add(-1);
    // Who ended it: we (with close_code_), the idle timeout, a protocol
    // violation Beast failed the connection for (e.g. invalid UTF-8, 1007),
    // or the client.
    const char* by = "client";
    uint16_t code = static_cast<uint16_t>(ws_.reason().code);
    if (close_code_ != 0) {
      by = "server";
      code = close_code_;
    } else if (ec == beast::error::timeout) {
      by = "idle_timeout";
    } else if (ec == websocket::condition::protocol_violation) {
      by = "violation";
      env_.metrics.ws_closed_violation.Inc();
    }
    if (ec && !IsQuietError(ec)) {
      spdlog::info("event=ws_close conn={} user={} code={} by={} err=\"{}\" rid={}", conn_id_,
                   user_id_, code, by, ec.message(), request_id_);
    } else {
      spdlog::info("event=ws_close conn={} user={} code={} by={} rid={}", conn_id_, user_id_, code,
                   by, request_id_);
    }
  }
  if (registered_) {
    env_.registry.Remove(user_id_, conn_id_);
    rpc::DisconnectRequest req;
    req.set_node_id(env_.node_id);
    req.set_node_epoch(env_.node_epoch);
    req.set_conn_id(conn_id_);
    env_.logic.Disconnect(CallContextForUser(), std::move(req), [](rpc::DisconnectReply) {});
    if (env_.on_finished) env_.on_finished();
  }
}

}  // namespace parley::connect

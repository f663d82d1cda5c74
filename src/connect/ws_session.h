// One client WebSocket connection: authenticates the upgrade through logic,
// completes it, sends `hello`, turns client frames into logic calls and their
// replies into frames, and writes queued frames with one write in flight.
//
// Order of sends: a connection keeps at most one Send batch in flight; sends
// read meanwhile wait (up to options.conn.ws_send_pending_max, beyond which
// they are answered rate_limited) and go as the next batch (at most
// ws_send_batch_max) once the reply came. Logic gives the sends of one batch
// seqs in batch order, so a connection's sends get seqs in the order they
// were read, over any transport. Reading never waits for logic.
//
// Callbacks with one lifecycle enum rather than reader/writer coroutines: an
// idle connection then holds one pending read operation and no coroutine
// frames (each would be a heap allocation of its own, held for the life of
// the connection), which matters at ~5.5 KiB per idle connection measured
// (docs/benchmarks.md). Batching adds an empty SendBatch, a vector and the
// session key per connection (about 100 bytes; not re-measured).
//
// Lifetime: a session is owned by the operations pending on it (each holds a
// shared_from_this()) and, while registered, by the ConnectionRegistry; it
// unregisters itself when the connection ends. Threading: its socket's
// executor is a strand of its own; all state is touched only there. The public
// methods below are thread-safe and post to the strand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "common/clock.h"
#include "common/connection_limiter.h"
#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "connect/connection_registry.h"
#include "connect/frame_codec.h"
#include "connect/outbound_queue.h"
#include "logic/logic_service.h"

namespace parley::connect {

// What every session of a node shares. Owned by the node; outlives every
// session (the node is destroyed only after its io_context stopped).
struct SessionEnv {
  SessionEnv(std::string node_id_in, uint64_t node_epoch_in, const Options& options_in,
             logic::LogicService& logic_in, Metrics& metrics_in, const Clock& clock_in,
             ConnectionRegistry& registry_in)
      : node_id(std::move(node_id_in)),
        node_epoch(node_epoch_in),
        options(options_in),
        logic(logic_in),
        metrics(metrics_in),
        clock(clock_in),
        registry(registry_in) {}

  const std::string node_id;
  const uint64_t node_epoch;
  const Options& options;
  logic::LogicService& logic;
  Metrics& metrics;
  const Clock& clock;  // wall time: call deadlines
  ConnectionRegistry& registry;
  // Set when the node drains: upgrades still in progress are refused.
  std::atomic<bool> draining{false};
  // Bytes queued for every session of the node (options.conn.
  // outbound_total_max_bytes bounds it).
  std::atomic<int64_t> outbound_bytes{0};
  // Called once, from the session's strand, when a session that was
  // registered ends (after it left the registry). Set before any session
  // exists.
  std::function<void()> on_finished;
};

// WebSocket close codes of PROTOCOL.md.
inline constexpr uint16_t kCloseUnauthenticated = 4001;
inline constexpr uint16_t kClosePolicy = 4008;
inline constexpr uint16_t kCloseTooBig = 4009;
inline constexpr uint16_t kCloseGoingAway = 1001;

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  // The session's own strand, of a concrete type: every pending operation
  // keeps copies of it, and an any_io_executor holding a strand costs a heap
  // allocation each time (about 600 bytes per idle connection, measured).
  using Executor = boost::asio::strand<boost::asio::io_context::executor_type>;
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  // `socket`'s strand must be used by nothing else.
  WsSession(SessionEnv& env, Socket socket, uint64_t conn_id, std::string request_id);
  ~WsSession();

  // Handles the upgrade request (already read; `leftover` holds bytes read
  // past it): authenticates, then upgrades or answers with an HTTP error.
  // `admission` is the connection's place under the node's connection caps
  // (held until the session ends), or why it has none: then the upgrade is
  // refused with that error. Call once, right after construction.
  void Start(Request request, boost::beast::flat_buffer leftover,
             StatusOr<ConnectionLimiter::Lease> admission);

  // Queues a frame for writing (a no-op once the session is closing). A queue
  // over options.conn.outbound_queue_max_bytes, or a frame for a session that
  // has frames waiting while the node's queues together are over
  // options.conn.outbound_total_max_bytes, closes the session as a slow
  // consumer (4008).
  void Enqueue(Frame frame);

  // Starts the close handshake with `code`. With `flush`, frames already
  // queued, and the acks of sends in flight, are written first; else they
  // are dropped. Frames enqueued after this call are dropped. A session that
  // does not finish closing within options.conn.drain_timeout_ms is cut off.
  void Close(uint16_t code, std::string reason, bool flush);
  // Closes the socket at once, without a close handshake.
  void Abort();

  uint64_t conn_id() const { return conn_id_; }
  // When the write in flight was started (Clock::MonotonicNs() / 1e6), 0
  // when no write is in flight: a connection whose write has not completed
  // for long does not read. Any thread.
  int64_t write_pending_since_ms() const {
    return write_started_ms_.load(std::memory_order_relaxed);
  }
  // Close() or Abort() was called, or the connection ended. Any thread.
  bool closing() const { return closing_.load(std::memory_order_relaxed); }

 private:
  using Stream = boost::beast::websocket::stream<Socket>;
  using Timer = boost::asio::basic_waitable_timer<
      std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

  // Where the connection is in its life. Reads and writes in flight are
  // tracked apart (read_, writing_): they overlap every state from kOpen on.
  enum class State : uint8_t {
    kAuthenticating,  // logic's Connect reply is awaited
    kHandshaking,     // the WebSocket handshake is in progress
    kOpen,            // frames flow both ways
    kClosing,         // Close() was called: queued frames (with flush_) go first
    kCloseSent,       // the close frame is on its way
    kFinished,        // the socket is closed; nothing more happens
  };
  enum class ReadState : uint8_t { kIdle, kReading, kStopped /* protocol violation */ };

  void DoStart(const Status& refused);
  // `refused`: why the connection may not be registered though logic
  // accepted it (the node drains, or the user is at its cap).
  void OnConnected(rpc::ConnectReply reply, const Status& refused);
  void OnAccepted(boost::beast::error_code ec);
  void ReplyHttpError(const Status& status);

  void DoRead();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void HandleText(std::string_view text);
  void HandleSend(ClientFrame& frame);
  void HandleSync(ClientFrame& frame);
  void HandleRead(ClientFrame& frame);
  // Sends the waiting sends as one batch unless a batch is in flight.
  void MaybeSendBatch();
  // `rid`: the request id of the batch's logic call.
  void OnSendBatch(rpc::SendBatchReply reply, const std::string& rid);
  void OnSendReply(const std::string& id, const rpc::SendReply& reply, const std::string& rid);
  // One more rate_limited answer in a row: closes with 4008 past the limit.
  void CountRateViolation();
  // The context of a call made for this socket's user.
  logic::CallContext CallContextForUser() const;
  int64_t Deadline() const;

  // `rid`: the request id of the logic call that failed, for the log (the
  // connection's when empty). Internal details stay in the log: the client
  // gets a generic message for internal and unavailable errors.
  void SendError(const std::optional<std::string>& id, const Status& status,
                 int64_t retry_after_ms = 0, std::string_view rid = {});
  // `is_ack`: the frame acknowledges a send; it is still written while the
  // session closes with a flush (other frames are dropped once closing).
  void EnqueueOnStrand(Frame frame, bool is_ack = false);
  void MaybeWrite();
  void OnWrite(boost::beast::error_code ec);

  void CloseOnStrand(uint16_t code, std::string reason, bool flush);
  void StartCloseHandshake();
  void Finish(boost::beast::error_code ec);
  bool close_requested() const { return close_code_ != 0; }

  // Posts `fn` to the strand, keeping the session alive until it ran.
  template <typename Fn>
  void Post(Fn fn);

  SessionEnv& env_;
  const uint64_t conn_id_;
  const std::string request_id_;
  Stream ws_;

  // State below is used only on the strand (user_id_, session_key_ and
  // registered_ are set by the Connect reply, while no handler of the
  // session can run).
  uint64_t user_id_ = 0;
  std::string session_key_;
  uint64_t route_key_ = 0;                 // logic::CallContext::route_key of its calls
  std::unique_ptr<Request> request_;       // until the upgrade is answered
  std::unique_ptr<std::string> leftover_;  // bytes read past the request, if any
  std::unique_ptr<Timer> close_deadline_;  // only while closing
  ConnectionLimiter::Lease lease_;         // the place under the caps, until finished
  boost::beast::flat_buffer read_buffer_;  // the message being read
  OutboundQueue queue_;
  rpc::SendBatch waiting_sends_;        // read while a batch is in flight
  std::vector<std::string> batch_ids_;  // client ids of the batch in flight; empty: none
  std::string close_reason_;
  uint32_t calls_in_flight_ = 0;  // logic calls awaiting their reply (a batch counts once)
  uint32_t rate_violations_ = 0;  // rate_limited replies in a row
  uint16_t close_code_ = 0;       // non-zero once Close() was called
  State state_ = State::kAuthenticating;
  ReadState read_ = ReadState::kIdle;
  bool writing_ = false;     // a write is in flight
  bool flush_ = false;       // closing with flush: queued frames and acks go first
  bool registered_ = false;  // in the registry, and logic knows the connection
  // Written on the strand, read by the node's sweep (write_pending_since_ms).
  std::atomic<int64_t> write_started_ms_{0};
  std::atomic<bool> closing_{false};  // written on the strand, read by closing()
};

}  // namespace parley::connect

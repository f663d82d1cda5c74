// A lean WebSocket client for load generation (RFC 6455, text frames, no
// extensions). It speaks the framing itself rather than through Beast's
// websocket::stream so that every frame queued while a write is in flight
// goes out in the next single write, and one read hands over every frame it
// brought. In steady state nothing is allocated per frame: the read buffer
// and the two outbound buffers keep their capacity.
//
// Single-threaded: all calls and callbacks on the io_context's one thread.
// The owner keeps the client alive until OnClosed has run (or the
// io_context has stopped).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace parley::bench {

class WsClient;

class WsHandler {
 public:
  virtual ~WsHandler() = default;
  // The upgrade succeeded.
  virtual void OnOpen(WsClient& c) = 0;
  // One complete text message; `text` is valid only during the call.
  virtual void OnText(WsClient& c, std::string_view text) = 0;
  // The connection is gone: `why` says how (connect error, HTTP status of a
  // refused upgrade, close code, EOF). Runs once per Start().
  virtual void OnClosed(WsClient& c, const std::string& why) = 0;
};

class WsClient {
 public:
  // `index` is the owner's name for this client, handed back untouched.
  WsClient(boost::asio::io_context& io, WsHandler* handler, uint32_t index);
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects from `source` (unspecified: the kernel chooses) to `server`,
  // then upgrades `GET /ws` with `Authorization: Bearer <token>`.
  void Start(const boost::asio::ip::tcp::endpoint& server, const boost::asio::ip::address& source,
             const std::string& token);
  // Queues one text frame. Ignored unless open.
  void SendText(std::string_view payload);
  // Drops the connection at once, without a closing handshake (a client that
  // vanished). OnClosed follows.
  void Drop();

  bool open() const { return state_ == State::kOpen; }
  uint32_t index() const { return index_; }
  // Bytes queued but not yet taken by the socket.
  size_t backlog() const { return out_.size() + inflight_.size(); }

 private:
  enum class State { kIdle, kConnecting, kUpgrading, kOpen, kClosing, kClosed };

  void OnConnect(const boost::system::error_code& ec);
  void ReadMore();
  void OnRead(const boost::system::error_code& ec, size_t n);
  // Parses the upgrade response; false when more bytes are needed.
  bool ParseUpgrade();
  // Handles every complete frame in the read buffer.
  void ParseFrames();
  void QueueFrame(uint8_t opcode, std::string_view payload);
  void Flush();
  void Fail(std::string why);

  boost::asio::ip::tcp::socket socket_;
  WsHandler* handler_;
  uint32_t index_;
  State state_ = State::kIdle;
  // Bumped when a connection ends: completions of an older one are ignored.
  uint64_t generation_ = 0;
  uint32_t mask_state_;
  std::string close_reason_;  // set when the server started the close

  std::vector<char> rbuf_;  // bytes [rbegin_, rend_) are unparsed
  size_t rbegin_ = 0;
  size_t rend_ = 0;
  std::string fragments_;  // a fragmented message being assembled (rare)
  uint8_t fragment_opcode_ = 0;

  std::string out_;       // frames queued while a write is in flight
  std::string inflight_;  // the bytes of the write in flight
  bool writing_ = false;
  bool close_after_write_ = false;
};

}  // namespace parley::bench

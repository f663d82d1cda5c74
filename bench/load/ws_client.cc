#include "load/ws_client.h"

#include <netinet/in.h>

#include <cstring>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

namespace parley::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kInitialReadBuffer = 4096;
constexpr size_t kMaxMessage = 16 << 20;

uint32_t NextRandom(uint32_t& s) {  // xorshift32: mask keys need no crypto here
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

void AppendBase64(std::string& out, const unsigned char* p, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = p[i] << 16;
    if (i + 1 < n) v |= p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
}

}  // namespace

WsClient::WsClient(asio::io_context& io, WsHandler* handler, uint32_t index)
    : socket_(io), handler_(handler), index_(index), mask_state_((index * 2654435761u) | 1) {}

void WsClient::Start(const tcp::endpoint& server, const asio::ip::address& source,
                     const std::string& token) {
  ++generation_;
  state_ = State::kConnecting;
  rbegin_ = rend_ = 0;
  if (rbuf_.size() < kInitialReadBuffer) rbuf_.resize(kInitialReadBuffer);
  fragments_.clear();
  out_.clear();
  inflight_.clear();
  writing_ = false;
  close_after_write_ = false;
  close_reason_.clear();

  boost::system::error_code ec;
  socket_.open(server.protocol(), ec);
  if (!ec) socket_.set_option(tcp::no_delay(true), ec);
  if (!ec && !source.is_unspecified()) {
    // Without this, bind() would reserve a port per source address for any
    // destination and run out at 28,000 connections.
    using BindNoPort = asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>;
    socket_.set_option(BindNoPort(true), ec);
    if (!ec) socket_.bind(tcp::endpoint(source, 0), ec);
  }
  if (ec) {
    Fail("socket: " + ec.message());
    return;
  }
  // The upgrade request waits in out_ until the connection is up.
  unsigned char key[16];
  for (int i = 0; i < 16; i += 4) {
    uint32_t r = NextRandom(mask_state_);
    std::memcpy(key + i, &r, 4);
  }
  out_.reserve(256 + token.size());
  out_ += "GET /ws HTTP/1.1\r\nHost: ";
  out_ += server.address().to_string();
  out_ += ':';
  out_ += std::to_string(server.port());
  out_ += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
  out_ += "Sec-WebSocket-Key: ";
  AppendBase64(out_, key, sizeof key);
  out_ += "\r\nAuthorization: Bearer ";
  out_ += token;
  out_ += "\r\n\r\n";
  uint64_t gen = generation_;
  socket_.async_connect(server, [this, gen](const boost::system::error_code& ec) {
    if (gen == generation_) OnConnect(ec);
  });
}

void WsClient::OnConnect(const boost::system::error_code& ec) {
  if (ec) {
    Fail("connect: " + ec.message());
    return;
  }
  state_ = State::kUpgrading;
  Flush();
  ReadMore();
}

void WsClient::ReadMore() {
  if (rbegin_ == rend_) {
    rbegin_ = rend_ = 0;
  } else if (rbegin_ > 0 && rend_ == rbuf_.size()) {
    std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
    rend_ -= rbegin_;
    rbegin_ = 0;
  }
  if (rend_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
  uint64_t gen = generation_;
  socket_.async_read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                          [this, gen](const boost::system::error_code& ec, size_t n) {
                            if (gen == generation_) OnRead(ec, n);
                          });
}

void WsClient::OnRead(const boost::system::error_code& ec, size_t n) {
  if (ec) {
    if (state_ == State::kClosing) {
      Fail(close_reason_);
    } else {
      Fail(ec == asio::error::eof ? "eof" : "read: " + ec.message());
    }
    return;
  }
  rend_ += n;
  uint64_t gen = generation_;
  if (state_ == State::kUpgrading) {
    if (!ParseUpgrade()) {
      if (gen == generation_ && state_ == State::kUpgrading) ReadMore();
      return;
    }
    if (gen != generation_ || state_ != State::kOpen) return;
  }
  ParseFrames();
  // A handler may have dropped or restarted the client.
  if (gen == generation_ && (state_ == State::kOpen || state_ == State::kClosing)) ReadMore();
}

bool WsClient::ParseUpgrade() {
  std::string_view data(rbuf_.data() + rbegin_, rend_ - rbegin_);
  size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > 64 * 1024) Fail("upgrade: response headers too large");
    return false;
  }
  std::string_view head = data.substr(0, end);
  // "HTTP/1.1 101 Switching Protocols"
  size_t sp = head.find(' ');
  int status = 0;
  if (sp != std::string_view::npos && sp + 4 <= head.size()) {
    for (size_t i = sp + 1; i < sp + 4; ++i) status = status * 10 + (head[i] - '0');
  }
  if (status != 101) {
    Fail("upgrade refused: HTTP " + std::to_string(status));
    return false;
  }
  rbegin_ += end + 4;
  state_ = State::kOpen;
  handler_->OnOpen(*this);
  return true;
}

void WsClient::ParseFrames() {
  uint64_t gen = generation_;
  while (gen == generation_ && (state_ == State::kOpen || state_ == State::kClosing)) {
    const auto* p = reinterpret_cast<const unsigned char*>(rbuf_.data() + rbegin_);
    size_t avail = rend_ - rbegin_;
    if (avail < 2) return;
    bool fin = p[0] & 0x80;
    uint8_t opcode = p[0] & 0x0f;
    bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t header = 2;
    if (len == 126) {
      if (avail < 4) return;
      len = (uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) return;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
      header = 10;
    }
    if (masked) {
      Fail("protocol: masked frame from server");
      return;
    }
    if (len > kMaxMessage) {
      Fail("protocol: frame too large");
      return;
    }
    if (avail < header + len) {
      // Make room for the whole frame; ReadMore compacts when needed.
      if (header + len > rbuf_.size()) {
        std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, avail);
        rend_ = avail;
        rbegin_ = 0;
        rbuf_.resize(header + len);
      }
      return;
    }
    std::string_view payload(rbuf_.data() + rbegin_ + header, len);
    rbegin_ += header + len;
    switch (opcode) {
      case 0x1:  // text
      case 0x2:  // binary: passed on as is
        if (fin) {
          handler_->OnText(*this, payload);
        } else {
          fragment_opcode_ = opcode;
          fragments_.assign(payload);
        }
        break;
      case 0x0:  // continuation
        fragments_.append(payload);
        if (fragments_.size() > kMaxMessage) {
          Fail("protocol: message too large");
          return;
        }
        if (fin) {
          std::string whole = std::move(fragments_);
          fragments_.clear();
          handler_->OnText(*this, whole);
        }
        break;
      case 0x8: {  // close
        int code = len >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                  static_cast<unsigned char>(payload[1])
                            : 1005;
        if (state_ == State::kOpen) {
          QueueFrame(0x8, payload.substr(0, 2));
          close_after_write_ = true;
          state_ = State::kClosing;
          close_reason_ = "closed by server, code " + std::to_string(code);
        } else {
          // Our close was answered.
          Fail(close_reason_.empty() ? "closed, code " + std::to_string(code) : close_reason_);
          return;
        }
        break;
      }
      case 0x9:  // ping
        QueueFrame(0xA, payload);
        break;
      case 0xA:  // pong
        break;
      default:
        Fail("protocol: unknown opcode " + std::to_string(opcode));
        return;
    }
  }
}

void WsClient::SendText(std::string_view payload) {
  if (state_ != State::kOpen) return;
  QueueFrame(0x1, payload);
}

void WsClient::QueueFrame(uint8_t opcode, std::string_view payload) {
  size_t n = payload.size();
  size_t at = out_.size();
  size_t header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  out_.resize(at + header + 4 + n);
  auto* p = reinterpret_cast<unsigned char*>(out_.data() + at);
  p[0] = 0x80 | opcode;
  if (n < 126) {
    p[1] = 0x80 | static_cast<unsigned char>(n);
  } else if (n < 65536) {
    p[1] = 0x80 | 126;
    p[2] = static_cast<unsigned char>(n >> 8);
    p[3] = static_cast<unsigned char>(n);
  } else {
    p[1] = 0x80 | 127;
    for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<unsigned char>(uint64_t{n} >> (56 - 8 * i));
  }
  unsigned char mask[4];
  uint32_t r = NextRandom(mask_state_);
  std::memcpy(mask, &r, 4);
  std::memcpy(p + header, mask, 4);
  unsigned char* dst = p + header + 4;
  const auto* src = reinterpret_cast<const unsigned char*>(payload.data());
  for (size_t i = 0; i < n; ++i) dst[i] = src[i] ^ mask[i & 3];
  Flush();
}

void WsClient::Flush() {
  if (writing_ || out_.empty()) return;
  std::swap(out_, inflight_);
  out_.clear();
  writing_ = true;
  uint64_t gen = generation_;
  asio::async_write(socket_, asio::buffer(inflight_),
                    [this, gen](const boost::system::error_code& ec, size_t) {
                      if (gen != generation_) return;
                      writing_ = false;
                      inflight_.clear();
                      if (ec) {
                        Fail("write: " + ec.message());
                        return;
                      }
                      if (!out_.empty()) {
                        Flush();
                      } else if (close_after_write_) {
                        Fail(close_reason_);
                      }
                    });
}

void WsClient::Drop() {
  if (state_ == State::kClosed || state_ == State::kIdle) return;
  Fail("dropped");
}

void WsClient::Fail(std::string why) {
  if (state_ == State::kClosed || state_ == State::kIdle) return;
  state_ = State::kClosed;
  ++generation_;  // handlers of this connection still queued are ignored
  boost::system::error_code ignored;
  socket_.close(ignored);
  writing_ = false;
  close_reason_.clear();
  handler_->OnClosed(*this, why);
}

}  // namespace parley::bench

// ConnectNode over real loopback sockets: an HTTP acceptor hands upgrade
// requests to the node, as the api tier does, and Beast WebSocket clients
// talk to it. Logic is the shared FakeLogic (src/logic/testing).
#include "connect/connect_node.h"
#include "connect/ws_listener.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "logic/testing/fake_logic.h"
#include "support/test_util.h"

namespace parley::connect {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

json::object J(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  return v.is_object() ? v.get_object() : json::object();
}

// Polls `cond` for up to 10 s.
template <typename Cond>
bool Eventually(Cond cond) {
  for (int i = 0; i < 1000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

// A WebSocket client on an io_context of its own, run only while waiting.
class Client {
 public:
  // Connects and reads `hello`; `ok()` tells whether it worked.
  Client(uint16_t port, const std::string& token, bool token_in_query = false) : ws_(io_) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    if (!token_in_query) {
      ws_.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
        req.set(http::field::authorization, "Bearer " + token);
      }));
    }
    beast::error_code ec;
    ws_.handshake("127.0.0.1", token_in_query ? "/ws?token=" + token : "/ws", ec);
    if (ec) return;
    auto hello = Read();
    if (!hello) return;
    hello_ = J(*hello);
    ok_ = hello_.at("type").as_string() == "hello";
  }

  bool ok() const { return ok_; }
  const json::object& hello() const { return hello_; }
  uint64_t conn_id() const { return hello_.at("conn_id").to_number<uint64_t>(); }

  void Send(const std::string& text, bool binary = false) {
    ws_.binary(binary);
    beast::error_code ec;
    ws_.write(asio::buffer(text), ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  // The next text message; nullopt once the connection closed (see
  // close_code()) or after `timeout` (the stream is then unusable).
  std::optional<std::string> Read(std::chrono::milliseconds timeout = 5s) {
    buffer_.consume(buffer_.size());
    beast::error_code result = asio::error::timed_out;
    bool done = false;
    ws_.async_read(buffer_, [&](beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      beast::get_lowest_layer(ws_).cancel();
      io_.restart();
      io_.run();
      timed_out_ = true;
      return std::nullopt;
    }
    if (result) {
      if (result == websocket::error::closed) close_code_ = ws_.reason().code;
      return std::nullopt;
    }
    return beast::buffers_to_string(buffer_.data());
  }
  json::object ReadJson(std::chrono::milliseconds timeout = 5s) {
    auto s = Read(timeout);
    EXPECT_TRUE(s.has_value()) << "no frame; close code " << close_code_;
    return s ? J(*s) : json::object();
  }
  // Reads until the server closes; returns its close code (0: none within 10 s).
  int WaitClosed() {
    while (Read(10s)) {
    }
    return close_code_;
  }
  void Close() {
    beast::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }
  bool timed_out() const { return timed_out_; }

 private:
  asio::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  json::object hello_;
  bool ok_ = false;
  bool timed_out_ = false;
  int close_code_ = 0;
};

// A plain HTTP exchange: the server's response to `request`.
http::response<http::string_body> HttpExchange(uint16_t port,
                                               http::request<http::string_body> request) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  request.set(http::field::host, "127.0.0.1");
  request.prepare_payload();
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code ec;
  http::read(socket, buffer, response, ec);
  EXPECT_FALSE(ec) << ec.message();
  return response;
}

http::request<http::string_body> UpgradeRequest(const std::string& auth) {
  http::request<http::string_body> req(http::verb::get, "/ws", 11);
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  if (!auth.empty()) req.set(http::field::authorization, auth);
  return req;
}

class ConnectNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logic_.AddToken("tok-a1", 1, "key-a1");
    logic_.AddToken("tok-a2", 1, "key-a2");
    logic_.AddToken("tok-b", 2, "key-b");
    options_.rate.ws_violations_before_close = 3;
    options_.conn.drain_timeout_ms = 2000;
  }

  // Starts the node (with options_ as set by the test) and the acceptor.
  void Start() {
    node_ = ConnectNode::Create(io_.get_executor(), "node-1", kEpoch, options_, logic_, metrics_,
                                clock_);
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  // Starts the node behind its own WsListener instead of the test acceptor.
  void StartWithListener() {
    node_ = ConnectNode::Create(io_.get_executor(), "node-1", kEpoch, options_, logic_, metrics_,
                                clock_);
    listener_ = std::make_unique<WsListener>(io_.get_executor(), options_, *node_, metrics_,
                                             [node = node_](auto done) { node->Ready(done); });
    ASSERT_OK(listener_->Listen("127.0.0.1:0"));
    port_ = listener_->port();
    listener_->Start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  // Shuts down as the processes do: a session that a queued handler still
  // holds refers to the node, so the node is drained and what is left in the
  // io_context runs before the node goes.
  void TearDown() override {
    if (listener_) listener_->StopAccepting();
    if (node_ && !threads_.empty()) {
      auto drained = std::make_shared<std::promise<void>>();
      node_->Drain([drained] { drained->set_value(); });
      drained->get_future().wait_for(std::chrono::seconds(5));
    }
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    beast::error_code ignored;
    acceptor_.close(ignored);
    io_.restart();
    io_.run_for(std::chrono::seconds(3));
    node_.reset();
  }

  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      struct Pending {
        beast::tcp_stream stream;
        beast::flat_buffer buffer;
        http::request<http::string_body> request;
      };
      auto p = std::make_shared<Pending>(Pending{beast::tcp_stream(std::move(s)), {}, {}});
      http::async_read(p->stream, p->buffer, p->request, [this, p](beast::error_code ec, size_t) {
        if (!ec) node_->Upgrade(std::move(p->stream), std::move(p->request), std::move(p->buffer));
      });
      Accept();
    });
  }

  std::vector<logic::testing::Recorded<rpc::DisconnectRequest>> Disconnects() const {
    return logic_.Calls<rpc::DisconnectRequest>();
  }

  static std::string SendFrame(const std::string& id, uint64_t to_user = 2) {
    return R"({"type":"send","id":")" + id + R"(","to_user":)" + std::to_string(to_user) +
           R"(,"body":"x"})";
  }

  // Starts the node, connects user 1, and leaves its first send batch (`id`)
  // held in logic.
  std::unique_ptr<Client> StartWithSendInFlight(const std::string& id) {
    Start();
    auto client = std::make_unique<Client>(port_, "tok-a1");
    EXPECT_TRUE(client->ok());
    logic_.Hold(logic::testing::Method::kSend);
    client->Send(SendFrame(id));
    EXPECT_TRUE(logic_.WaitForCalls(logic::testing::Method::kSend, 1));
    return client;
  }

  rpc::PushReply Push(const rpc::PushRequest& req) {
    return parley::testing::Wait<rpc::PushReply>([&](auto cb) { node_->Push(req, cb); });
  }

  static rpc::PushEvent MsgEvent(std::vector<uint64_t> users, uint64_t seq,
                                 const std::string& origin_node = "", uint64_t origin_conn = 0) {
    rpc::PushEvent e;
    for (uint64_t u : users) e.add_user_ids(u);
    rpc::ChatMessage* m = e.mutable_msg();
    m->set_msg_id(9007199254740993ull);
    m->set_conv("p:1:2");
    m->set_seq(seq);
    m->set_from(1);
    m->set_to_user(2);
    m->set_body("pushed " + std::to_string(seq));
    m->set_ts(1'700'000'000'000);
    m->set_client_id("c" + std::to_string(seq));
    m->set_origin_node(origin_node);
    m->set_origin_conn(origin_conn);
    return e;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  Options options_;
  Metrics metrics_;
  ManualClock clock_{1'700'000'000'100};
  static constexpr uint64_t kEpoch = 7;
  logic::testing::FakeLogic logic_{clock_};
  std::shared_ptr<ConnectNode> node_;
  std::unique_ptr<WsListener> listener_;
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

TEST_F(ConnectNodeTest, RefusesBadUpgradesWithJsonErrors) {
  Start();
  auto res = HttpExchange(port_, UpgradeRequest("Bearer nope"));
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "unauthenticated");

  res = HttpExchange(port_, UpgradeRequest(""));
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "unauthenticated");

  http::request<http::string_body> plain(http::verb::get, "/ws", 11);
  plain.set(http::field::authorization, "Bearer tok-a1");
  res = HttpExchange(port_, plain);
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "invalid_argument");

  EXPECT_EQ(node_->connection_count(), 0u);
  EXPECT_EQ(metrics_.ws_opened.value(), 0u);
  EXPECT_TRUE(Disconnects().empty()) << "no Disconnect without a Connect";
}

TEST_F(ConnectNodeTest, HelloPingSendAckAndClose) {
  Start();
  Client a(port_, "tok-a1", /*token_in_query=*/true);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.hello().at("user_id").to_number<uint64_t>(), 1u);
  EXPECT_TRUE(a.hello().at("convs").as_array().empty());
  EXPECT_EQ(metrics_.ws_opened.value(), 1u);
  EXPECT_EQ(metrics_.ws_connections.value(), 1);
  auto connects = logic_.Calls<rpc::ConnectRequest>();
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(connects[0].ctx.token, "tok-a1");
  EXPECT_EQ(connects[0].ctx.client_ip, "127.0.0.1");
  EXPECT_EQ(connects[0].req.node_id(), "node-1");
  EXPECT_EQ(connects[0].req.node_epoch(), kEpoch);
  EXPECT_EQ(connects[0].req.conn_id(), a.conn_id());

  a.Send(R"({"type":"ping"})");
  EXPECT_EQ(a.Read(), R"({"type":"pong"})");

  a.Send(R"({"type":"send","id":"m1","to_user":2,"body":"hello"})");
  json::object ack = a.ReadJson();
  EXPECT_EQ(ack.at("type").as_string(), "ack");
  EXPECT_EQ(ack.at("id").as_string(), "m1");
  EXPECT_EQ(ack.at("conv").as_string(), "p:1:2");
  EXPECT_EQ(ack.at("seq").to_number<uint64_t>(), 1u);
  EXPECT_TRUE(ack.at("msg_id").is_string());
  ASSERT_EQ(logic_.accepted().size(), 1u);
  EXPECT_EQ(logic_.accepted()[0].origin_node(), "node-1");
  EXPECT_EQ(logic_.accepted()[0].origin_conn(), a.conn_id());
  EXPECT_EQ(logic_.accepted()[0].from(), 1u);

  // A second connection sees the conversation in its hello.
  Client b(port_, "tok-b");
  ASSERT_TRUE(b.ok());
  const json::array& convs = b.hello().at("convs").as_array();
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].at("conv").as_string(), "p:1:2");
  EXPECT_EQ(convs[0].at("last_seq").to_number<uint64_t>(), 1u);
  EXPECT_EQ(convs[0].at("peer").to_number<uint64_t>(), 1u);
  EXPECT_NE(b.conn_id(), a.conn_id());

  a.Close();
  ASSERT_TRUE(Eventually([&] { return node_->connection_count() == 1; }));
  ASSERT_TRUE(Eventually([&] { return Disconnects().size() == 1; }));
  auto d = Disconnects()[0];
  EXPECT_EQ(d.ctx.user_id, 1u);
  EXPECT_EQ(d.ctx.session_key, "key-a1");
  EXPECT_EQ(d.req.node_id(), "node-1");
  EXPECT_EQ(d.req.node_epoch(), kEpoch);
  EXPECT_EQ(d.req.conn_id(), a.conn_id());
  EXPECT_TRUE(Eventually([&] { return metrics_.ws_connections.value() == 1; }));
}

TEST_F(ConnectNodeTest, FramesRightBehindTheUpgradeRequestAreKept) {
  Start();
  // One write: the upgrade request and, pipelined behind it, a masked text
  // frame {"type":"ping"}. The acceptor reads both into its buffer.
  std::string raw =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Authorization: Bearer tok-a1\r\n\r\n";
  const std::string payload = R"({"type":"ping"})";
  const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
  raw += static_cast<char>(0x81);
  raw += static_cast<char>(0x80 | payload.size());
  raw.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) raw += static_cast<char>(payload[i] ^ mask[i % 4]);

  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  asio::write(socket, asio::buffer(raw));
  // Reads the 101 response, then unmasked server frames (all short here).
  std::string in;
  auto fill = [&](size_t n) {
    while (in.size() < n) {
      char buf[4096];
      size_t got = socket.read_some(asio::buffer(buf));
      in.append(buf, got);
    }
  };
  size_t head_end;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) fill(in.size() + 1);
  EXPECT_EQ(in.substr(0, 12), "HTTP/1.1 101");
  in.erase(0, head_end + 4);
  std::vector<std::string> frames;
  while (frames.size() < 2) {
    fill(2);
    size_t len = static_cast<unsigned char>(in[1]) & 0x7f, off = 2;
    if (len == 126) {
      fill(4);
      len = (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
      off = 4;
    }
    fill(off + len);
    frames.push_back(in.substr(off, len));
    in.erase(0, off + len);
  }
  EXPECT_EQ(J(frames[0]).at("type").as_string(), "hello");
  EXPECT_EQ(frames[1], R"({"type":"pong"})");
}

TEST_F(ConnectNodeTest, PipelinedSendsAreAckedInOrder) {
  Start();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  constexpr int kSends = 200;
  for (int i = 0; i < kSends; ++i) {
    a.Send(R"({"type":"send","id":"p)" + std::to_string(i) + R"(","to_user":2,"body":"x"})");
  }
  for (int i = 0; i < kSends; ++i) {
    json::object ack = a.ReadJson();
    ASSERT_EQ(ack.at("type").as_string(), "ack");
    EXPECT_EQ(ack.at("id").as_string(), "p" + std::to_string(i));
    EXPECT_EQ(ack.at("seq").to_number<uint64_t>(), static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(metrics_.frames_in.value(), static_cast<uint64_t>(kSends));
}

TEST_F(ConnectNodeTest, EveryCallCarriesTheSocketsCredentialsOriginAndDeadline) {
  options_.conn.logic_call_timeout_ms = 2500;
  Start();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  const int64_t deadline = clock_.NowMs() + 2500;
  a.Send(SendFrame("m1"));
  ASSERT_EQ(a.ReadJson().at("type").as_string(), "ack");
  a.Send(R"({"type":"sync","conv":"p:1:2"})");
  ASSERT_EQ(a.ReadJson().at("type").as_string(), "sync");

  auto connect = logic_.Last<rpc::ConnectRequest>();
  ASSERT_TRUE(connect.has_value());
  EXPECT_EQ(connect->ctx.token, "tok-a1");
  EXPECT_EQ(connect->ctx.origin_node, "node-1");
  EXPECT_EQ(connect->ctx.deadline_ms, deadline);
  EXPECT_FALSE(connect->ctx.request_id.empty());
  for (const logic::CallContext& ctx :
       {logic_.Last<rpc::SendBatch>()->ctx, logic_.Last<rpc::SyncRequest>()->ctx}) {
    EXPECT_TRUE(ctx.token.empty()) << "after Connect, the socket's session identifies it";
    EXPECT_EQ(ctx.user_id, 1u);
    EXPECT_EQ(ctx.session_key, "key-a1");
    EXPECT_EQ(ctx.origin_node, "node-1");
    EXPECT_EQ(ctx.origin_conn, a.conn_id());
    EXPECT_EQ(ctx.deadline_ms, deadline);
    EXPECT_FALSE(ctx.request_id.empty());
  }
  EXPECT_NE(logic_.Last<rpc::SendBatch>()->ctx.request_id,
            logic_.Last<rpc::SyncRequest>()->ctx.request_id);
}

TEST_F(ConnectNodeTest, OneSendBatchInFlightAndTheRestJoinTheNextInOrder) {
  options_.conn.ws_send_batch_max = 3;
  auto client = StartWithSendInFlight("s0");
  ASSERT_TRUE(client->ok());
  Client& a = *client;
  for (int i = 1; i <= 5; ++i) a.Send(SendFrame("s" + std::to_string(i)));
  // Reading goes on while the batch is in flight.
  a.Send(R"({"type":"ping"})");
  EXPECT_EQ(a.Read(), R"({"type":"pong"})");
  EXPECT_EQ(logic_.call_count(logic::testing::Method::kSend), 1u) << "one batch in flight";

  // Each release lets the next batch go: [s0], then [s1 s2 s3], then [s4 s5].
  for (size_t batches = 1; batches <= 3; ++batches) {
    ASSERT_TRUE(logic_.WaitForCalls(logic::testing::Method::kSend, batches));
    EXPECT_EQ(logic_.call_count(logic::testing::Method::kSend), batches);
    ASSERT_TRUE(Eventually([&] { return logic_.held(logic::testing::Method::kSend) == 1; }));
    logic_.Release(logic::testing::Method::kSend);
  }
  auto batches = logic_.Calls<rpc::SendBatch>();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].req.requests_size(), 1);
  EXPECT_EQ(batches[1].req.requests_size(), 3);
  EXPECT_EQ(batches[2].req.requests_size(), 2);
  EXPECT_EQ(batches[1].req.requests(0).client_id(), "s1");
  EXPECT_EQ(batches[2].req.requests(1).client_id(), "s5");
  for (int i = 0; i <= 5; ++i) {
    json::object ack = a.ReadJson();
    ASSERT_EQ(ack.at("type").as_string(), "ack");
    EXPECT_EQ(ack.at("id").as_string(), "s" + std::to_string(i));
    EXPECT_EQ(ack.at("seq").to_number<uint64_t>(), static_cast<uint64_t>(i + 1));
  }
}

TEST_F(ConnectNodeTest, SendsBeyondThePendingLimitAreRateLimited) {
  options_.conn.ws_send_pending_max = 2;
  options_.rate.ws_violations_before_close = 100;
  auto client = StartWithSendInFlight("in-flight");
  ASSERT_TRUE(client->ok());
  Client& a = *client;
  a.Send(SendFrame("w1"));
  a.Send(SendFrame("w2"));
  a.Send(SendFrame("over"));
  json::object err = a.ReadJson();
  EXPECT_EQ(err.at("type").as_string(), "error");
  EXPECT_EQ(err.at("code").as_string(), "rate_limited");
  EXPECT_EQ(err.at("id").as_string(), "over");
  EXPECT_GT(err.at("retry_after_ms").to_number<int64_t>(), 0);
  logic_.Release(logic::testing::Method::kSend, SIZE_MAX, /*stop_holding=*/true);
  for (const char* id : {"in-flight", "w1", "w2"}) {
    json::object ack = a.ReadJson();
    EXPECT_EQ(ack.at("type").as_string(), "ack");
    EXPECT_EQ(ack.at("id").as_string(), id);
  }
}

TEST_F(ConnectNodeTest, ADrainWaitsForTheAckOfTheBatchInFlightAndDropsTheWaitingSends) {
  auto client = StartWithSendInFlight("in-flight");
  ASSERT_TRUE(client->ok());
  Client& a = *client;
  a.Send(SendFrame("waiting"));
  a.Send(R"({"type":"ping"})");
  EXPECT_EQ(a.Read(), R"({"type":"pong"})");  // "waiting" was read before the drain
  std::promise<void> drained;
  node_->Drain([&] { drained.set_value(); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(node_->connection_count(), 1u) << "the close waits for the batch in flight";
  logic_.Release(logic::testing::Method::kSend, SIZE_MAX, /*stop_holding=*/true);
  json::object ack = a.ReadJson();
  EXPECT_EQ(ack.at("type").as_string(), "ack");
  EXPECT_EQ(ack.at("id").as_string(), "in-flight");
  EXPECT_EQ(a.WaitClosed(), 1001);
  ASSERT_EQ(drained.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(logic_.call_count(logic::testing::Method::kSend), 1u)
      << "an unacknowledged send is not started while closing; the client resends it";
}

TEST_F(ConnectNodeTest, ALogoutElsewhereRefusesTheSocketsNextCall) {
  Start();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  logic::CallContext ctx;
  ctx.token = "tok-a1";
  parley::testing::Wait<rpc::LogoutReply>([&](auto cb) { logic_.Logout(ctx, {}, cb); });
  a.Send(SendFrame("after-logout"));
  json::object err = a.ReadJson();
  EXPECT_EQ(err.at("code").as_string(), "unauthenticated");
  EXPECT_EQ(err.at("id").as_string(), "after-logout");
}

TEST_F(ConnectNodeTest, BadFramesGetErrorFramesAndTheConnectionStays) {
  Start();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  struct Case {
    std::string raw;
    std::string id;  // empty: no id expected
  };
  std::vector<Case> cases = {
      {"not json", ""},
      {"[]", ""},
      {R"({"id":"m1"})", "m1"},
      {R"({"type":"teleport","id":"m2"})", "m2"},
      {R"({"type":"send","id":"s1","to_user":"2","body":"x"})", "s1"},
      {R"({"type":"send","id":"s2","to_user":2,"to_group":3,"body":"x"})", "s2"},
      {R"({"type":"send","id":"s3","to_user":2,"body":""})", "s3"},
      {R"({"type":"send","id":12,"to_user":2,"body":"x"})", ""},
      {R"({"type":"sync","conv":"p:2:1","id":"y"})", "y"},
  };
  for (const Case& c : cases) {
    a.Send(c.raw);
    json::object err = a.ReadJson();
    EXPECT_EQ(err.at("type").as_string(), "error") << c.raw;
    EXPECT_EQ(err.at("code").as_string(), "invalid_argument") << c.raw;
    EXPECT_TRUE(err.at("message").is_string());
    if (c.id.empty()) {
      EXPECT_FALSE(err.contains("id")) << c.raw;
    } else {
      EXPECT_EQ(err.at("id").as_string(), c.id) << c.raw;
    }
  }
  a.Send(R"({"type":"ping"})", /*binary=*/true);
  json::object err = a.ReadJson();
  EXPECT_EQ(err.at("type").as_string(), "error");
  EXPECT_EQ(err.at("code").as_string(), "invalid_argument");

  // Errors from logic carry the id too.
  a.Send(R"({"type":"send","id":"who","to_user":5000,"body":"x"})");
  err = a.ReadJson();
  EXPECT_EQ(err.at("code").as_string(), "not_found");
  EXPECT_EQ(err.at("id").as_string(), "who");

  a.Send(R"({"type":"ping"})");
  EXPECT_EQ(a.Read(), R"({"type":"pong"})");
  EXPECT_EQ(node_->connection_count(), 1u);
  EXPECT_TRUE(logic_.accepted().empty());
}

TEST_F(ConnectNodeTest, FrameOverTheLimitClosesWith4009) {
  options_.limits.ws_frame_max = 1000;
  Start();
  Client a(port_, "tok-a1");
  Client sibling(port_, "tok-a2");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(sibling.ok());
  auto frame_of = [](size_t size) {
    std::string head = R"({"type":"ping","pad":")", tail = R"("})";
    return head + std::string(size - head.size() - tail.size(), 'p') + tail;
  };
  a.Send(frame_of(1000));
  EXPECT_EQ(a.Read(), R"({"type":"pong"})");
  a.Send(frame_of(1001));
  EXPECT_EQ(a.WaitClosed(), 4009);
  EXPECT_EQ(metrics_.ws_closed_violation.value(), 1u);

  // A much bigger one too (the rest of it is read and discarded).
  Client big(port_, "tok-a1");
  ASSERT_TRUE(big.ok());
  big.Send(frame_of(300'000));
  EXPECT_EQ(big.WaitClosed(), 4009);

  sibling.Send(R"({"type":"ping"})");
  EXPECT_EQ(sibling.Read(), R"({"type":"pong"})");
  EXPECT_TRUE(Eventually([&] { return node_->connection_count() == 1; }));
}

TEST_F(ConnectNodeTest, InvalidUtf8ClosesThatConnectionOnly) {
  Start();
  Client a(port_, "tok-a1");
  Client sibling(port_, "tok-a2");
  ASSERT_TRUE(a.ok() && sibling.ok());
  a.Send("{\"type\":\"ping\",\"x\":\"\xc3\x28\"}");
  int code = a.WaitClosed();
  EXPECT_NE(code, 1000);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(Eventually([&] { return metrics_.ws_closed_violation.value() == 1; }));
  sibling.Send(R"({"type":"ping"})");
  EXPECT_EQ(sibling.Read(), R"({"type":"pong"})");
  EXPECT_TRUE(Eventually([&] { return node_->connection_count() == 1; }));
}

TEST_F(ConnectNodeTest, PushFansOutOnceSkipsTheOriginAndDedupesUsers) {
  Start();
  Client a1(port_, "tok-a1"), a2(port_, "tok-a2"), b(port_, "tok-b");
  ASSERT_TRUE(a1.ok() && a2.ok() && b.ok());

  rpc::PushRequest req;
  *req.add_events() = MsgEvent({1, 2, 1}, 1, "node-1", a1.conn_id());
  rpc::PushReply reply = Push(req);
  EXPECT_EQ(reply.delivered(), 2u);
  for (Client* c : {&a2, &b}) {
    json::object m = c->ReadJson();
    EXPECT_EQ(m.at("type").as_string(), "msg");
    EXPECT_EQ(m.at("msg_id").as_string(), "9007199254740993");
    EXPECT_EQ(m.at("seq").to_number<uint64_t>(), 1u);
    EXPECT_EQ(m.at("body").as_string(), "pushed 1");
    EXPECT_EQ(m.at("id").as_string(), "c1");
  }
  EXPECT_EQ(metrics_.messages_pushed.value(), 2u);

  // The same conn id on another node is not the origin.
  rpc::PushRequest req2;
  *req2.add_events() = MsgEvent({1}, 2, "node-9", a1.conn_id());
  rpc::PushEvent* read = req2.add_events();
  read->add_user_ids(1);
  read->mutable_read()->set_conv("p:1:2");
  read->mutable_read()->set_user_id(2);
  read->mutable_read()->set_seq(2);
  read->mutable_read()->set_origin_node("node-1");
  read->mutable_read()->set_origin_conn(b.conn_id());
  EXPECT_EQ(Push(req2).delivered(), 4u);
  for (Client* c : {&a1, &a2}) {
    EXPECT_EQ(c->ReadJson().at("seq").to_number<uint64_t>(), 2u);
    EXPECT_EQ(c->Read(), R"({"type":"read","conv":"p:1:2","user_id":2,"seq":2})");
  }
  // a1 got nothing from the first push: its next frame is the pong.
  a1.Send(R"({"type":"ping"})");
  EXPECT_EQ(a1.Read(), R"({"type":"pong"})");

  rpc::PushRequest nobody;
  *nobody.add_events() = MsgEvent({77}, 3);
  EXPECT_EQ(Push(nobody).delivered(), 0u);
}

TEST_F(ConnectNodeTest, SyncAndRead) {
  Start();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  for (int i = 0; i < 3; ++i) {
    a.Send(R"({"type":"send","id":"h)" + std::to_string(i) + R"(","to_user":2,"body":"b)" +
           std::to_string(i) + R"("})");
    ASSERT_EQ(a.ReadJson().at("type").as_string(), "ack");
  }
  a.Send(R"({"type":"sync","conv":"p:1:2","after_seq":1,"limit":1})");
  json::object s = a.ReadJson();
  EXPECT_EQ(s.at("type").as_string(), "sync");
  EXPECT_EQ(s.at("conv").as_string(), "p:1:2");
  EXPECT_EQ(s.at("has_more").as_bool(), true);
  ASSERT_EQ(s.at("messages").as_array().size(), 1u);
  const json::object& m = s.at("messages").as_array()[0].as_object();
  EXPECT_EQ(m.at("seq").to_number<uint64_t>(), 2u);
  EXPECT_EQ(m.at("body").as_string(), "b1");
  EXPECT_EQ(m.at("id").as_string(), "h1");
  EXPECT_TRUE(m.at("msg_id").is_string());

  a.Send(R"({"type":"sync","conv":"p:1:2"})");  // defaults: after 0, page_limit_default
  EXPECT_EQ(a.ReadJson().at("messages").as_array().size(), 3u);

  a.Send(R"({"type":"read","conv":"p:1:2","seq":3})");
  a.Send(R"({"type":"read","conv":"p:2:3","seq":1,"id":"r9"})");
  json::object err = a.ReadJson();  // the first read has no reply
  EXPECT_EQ(err.at("type").as_string(), "error");
  EXPECT_EQ(err.at("code").as_string(), "permission_denied");
  EXPECT_EQ(err.at("id").as_string(), "r9");
  auto reads = logic_.Calls<rpc::ReadRequest>();
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].req.conv(), "p:1:2");
  EXPECT_EQ(reads[0].req.seq(), 3u);
  EXPECT_EQ(reads[0].ctx.user_id, 1u);
  EXPECT_EQ(reads[0].ctx.origin_node, "node-1");
  EXPECT_EQ(reads[0].ctx.origin_conn, a.conn_id());
}

TEST_F(ConnectNodeTest, RateLimitedErrorsThenClose4008) {
  Start();
  logic_.SetSendBudget(2);
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  for (int i = 0; i < 20; ++i) {
    a.Send(R"({"type":"send","id":"f)" + std::to_string(i) + R"(","to_user":2,"body":"x"})");
  }
  int acks = 0, limited = 0;
  while (auto frame = a.Read()) {
    json::object f = J(*frame);
    if (f.at("type").as_string() == "ack") ++acks;
    if (f.at("type").as_string() == "error") {
      EXPECT_EQ(f.at("code").as_string(), "rate_limited");
      EXPECT_EQ(f.at("retry_after_ms").to_number<int64_t>(), 100);
      ++limited;
    }
  }
  EXPECT_EQ(a.WaitClosed(), 4008);
  EXPECT_EQ(acks, 2);
  EXPECT_EQ(limited, 3) << "ws_violations_before_close in a row, then the close";
  EXPECT_EQ(metrics_.ws_closed_violation.value(), 1u);
}

TEST_F(ConnectNodeTest, KickClosesOneLoginOrAll) {
  Start();
  Client a1(port_, "tok-a1"), a2(port_, "tok-a2"), b(port_, "tok-b");
  ASSERT_TRUE(a1.ok() && a2.ok() && b.ok());
  rpc::KickRequest kick;
  kick.set_user_id(1);
  kick.set_session_key("key-a1");
  kick.set_close_code(4001);
  kick.set_reason("logged out");
  auto reply = parley::testing::Wait<rpc::KickReply>([&](auto cb) { node_->Kick(kick, cb); });
  EXPECT_EQ(reply.closed(), 1u);
  EXPECT_EQ(a1.WaitClosed(), 4001);
  a2.Send(R"({"type":"ping"})");
  EXPECT_EQ(a2.Read(), R"({"type":"pong"})");

  rpc::KickRequest all;
  all.set_user_id(2);
  reply = parley::testing::Wait<rpc::KickReply>([&](auto cb) { node_->Kick(all, cb); });
  EXPECT_EQ(reply.closed(), 1u);
  EXPECT_EQ(b.WaitClosed(), 4001);
  EXPECT_TRUE(Eventually([&] { return node_->connection_count() == 1; }));
}

// A socket whose Connect read its session just before a logout may reach
// the node after the logout's kick went by: the node remembers the revoked
// key and refuses it then, so no socket of a revoked session stays open.
TEST_F(ConnectNodeTest, ASocketWhoseConnectRacedItsLogoutIsRefused) {
  Start();
  logic_.Hold(logic::testing::Method::kConnect);
  std::promise<bool> opened;
  std::thread client([&] { opened.set_value(Client(port_, "tok-a1").ok()); });
  ASSERT_TRUE(Eventually([&] { return logic_.call_count(logic::testing::Method::kConnect) == 1; }));

  rpc::KickRequest kick;
  kick.set_user_id(1);
  kick.set_session_key("key-a1");
  kick.set_close_code(4001);
  auto reply = parley::testing::Wait<rpc::KickReply>([&](auto cb) { node_->Kick(kick, cb); });
  EXPECT_EQ(reply.closed(), 0u) << "nothing registered yet";
  logic_.Release(logic::testing::Method::kConnect, SIZE_MAX, /*stop_holding=*/true);

  EXPECT_FALSE(opened.get_future().get()) << "the upgrade is refused";
  client.join();
  EXPECT_EQ(node_->connection_count(), 0u);
  EXPECT_TRUE(Eventually([&] { return Disconnects().size() == 1; })) << "presence taken back";
  // Another login of the same user is not affected.
  Client a2(port_, "tok-a2");
  EXPECT_TRUE(a2.ok());
}

TEST_F(ConnectNodeTest, SlowConsumerIsClosedNotBuffered) {
  options_.conn.outbound_queue_max_bytes = 64 * 1024;
  options_.conn.drain_timeout_ms = 300;
  Start();
  Client a(port_, "tok-a1");  // reads hello, then nothing more
  ASSERT_TRUE(a.ok());
  rpc::PushRequest req;
  rpc::PushEvent e = MsgEvent({1}, 1);
  e.mutable_msg()->set_body(std::string(4000, 'z'));
  *req.add_events() = e;
  // Far more than the kernel's socket buffers hold.
  for (int i = 0; i < 20000 && metrics_.ws_closed_slow.value() == 0; ++i) {
    Push(req);
  }
  EXPECT_EQ(metrics_.ws_closed_slow.value(), 1u);
  EXPECT_TRUE(Eventually([&] { return node_->connection_count() == 0; }));
  EXPECT_TRUE(Eventually([&] { return Disconnects().size() == 1; }));
}

// Pushes 4000-byte messages to `user` until `done()` or `max` pushes.
template <typename Done>
void PushUntil(ConnectNode& node, uint64_t user, int max, Done done) {
  rpc::PushRequest req;
  rpc::PushEvent* e = req.add_events();
  e->add_user_ids(user);
  e->mutable_msg()->set_conv("p:1:2");
  e->mutable_msg()->set_body(std::string(4000, 'z'));
  for (int i = 0; i < max && !done(); ++i) {
    e->mutable_msg()->set_seq(static_cast<uint64_t>(i) + 1);
    parley::testing::Wait<rpc::PushReply>([&](auto cb) { node.Push(req, cb); });
  }
}

TEST_F(ConnectNodeTest, AClientThatDoesNotReadIsClosedWhenItsWriteStalls) {
  options_.conn.outbound_queue_max_bytes = 64 * 1024 * 1024;  // not what closes it
  options_.conn.write_stall_timeout_ms = 5000;
  options_.conn.sweep_interval_ms = 10;
  options_.conn.drain_timeout_ms = 300;
  Start();
  Client reader(port_, "tok-b");
  Client stuck(port_, "tok-a1");  // reads hello, then never again
  ASSERT_TRUE(reader.ok() && stuck.ok());
  // Enough to fill the kernel's socket buffers: then a write stays pending.
  PushUntil(*node_, 1, 5000, [] { return false; });
  rpc::PushRequest to_reader;
  *to_reader.add_events() = MsgEvent({2}, 1);
  Push(to_reader);
  EXPECT_EQ(reader.ReadJson().at("type").as_string(), "msg");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(node_->connection_count(), 2u) << "a write pending for less than the timeout is fine";
  EXPECT_EQ(metrics_.ws_closed_slow.value(), 0u);

  clock_.AdvanceMs(5001);
  ASSERT_TRUE(Eventually([&] { return metrics_.ws_closed_slow.value() == 1; }));
  EXPECT_TRUE(Eventually([&] { return node_->connection_count() == 1; }));
  ASSERT_TRUE(Eventually([&] { return Disconnects().size() == 1; }));
  EXPECT_EQ(Disconnects()[0].req.conn_id(), stuck.conn_id());
  reader.Send(R"({"type":"ping"})");
  EXPECT_EQ(reader.Read(), R"({"type":"pong"})") << "the client that reads stays";
}

TEST_F(ConnectNodeTest, OverTheNodesOutboundBudgetTheConnectionThatFallsBehindIsClosed) {
  options_.conn.outbound_queue_max_bytes = 1024 * 1024 * 1024;  // not what closes it
  options_.conn.outbound_total_max_bytes = 256 * 1024;
  options_.conn.drain_timeout_ms = 300;
  Start();
  Client reader(port_, "tok-b");
  Client stuck(port_, "tok-a1");
  ASSERT_TRUE(reader.ok() && stuck.ok());
  // 16 MB: well past the budget, far under the connection's own cap.
  PushUntil(*node_, 1, 4000, [&] { return metrics_.ws_closed_slow.value() > 0; });
  EXPECT_EQ(metrics_.ws_closed_slow.value(), 1u);
  ASSERT_TRUE(Eventually([&] { return Disconnects().size() == 1; }));
  EXPECT_EQ(Disconnects()[0].req.conn_id(), stuck.conn_id());
  rpc::PushRequest to_reader;
  *to_reader.add_events() = MsgEvent({2}, 1);
  Push(to_reader);
  EXPECT_EQ(reader.ReadJson().at("type").as_string(), "msg");
}

TEST_F(ConnectNodeTest, AnExpiredTokensSocketIsClosedWith4001) {
  options_.conn.sweep_interval_ms = 10;
  Start();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  std::this_thread::sleep_for(50ms);  // a few sweeps
  a.Send(R"({"type":"ping"})");
  EXPECT_EQ(a.Read(), R"({"type":"pong"})") << "open while the token is valid";
  clock_.AdvanceMs(24LL * 3600 * 1000 + 1);  // FakeLogic's tokens live 24 h
  EXPECT_EQ(a.WaitClosed(), 4001);
  EXPECT_TRUE(Eventually([&] { return node_->connection_count() == 0; }));
  EXPECT_TRUE(Eventually([&] { return Disconnects().size() == 1; }));
}

TEST_F(ConnectNodeTest, ConnectionsPerUserOverTheCapAreRefusedWith429) {
  options_.conn.ws_connections_per_user_max = 2;
  Start();
  Client a1(port_, "tok-a1"), a2(port_, "tok-a2");
  ASSERT_TRUE(a1.ok() && a2.ok());
  auto res = HttpExchange(port_, UpgradeRequest("Bearer tok-a1"));
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "rate_limited");
  EXPECT_EQ(res[http::field::retry_after], "5");
  Client b(port_, "tok-b");
  EXPECT_TRUE(b.ok()) << "another user is not affected";
  // Logic had counted the refused connection: it is taken back.
  ASSERT_TRUE(Eventually([&] { return Disconnects().size() == 1; }));
  EXPECT_EQ(node_->connection_count(), 3u);

  a1.Close();
  ASSERT_TRUE(Eventually([&] { return node_->connection_count() == 2; }));
  Client again(port_, "tok-a1");
  EXPECT_TRUE(again.ok()) << "a closed connection gives its place back";
}

TEST_F(ConnectNodeTest, ConnectionsPerIpOverTheCapAreRefusedBeforeLogicIsAsked) {
  options_.conn.ws_connections_per_ip_max = 2;
  Start();
  Client a1(port_, "tok-a1"), b(port_, "tok-b");
  ASSERT_TRUE(a1.ok() && b.ok());
  auto res = HttpExchange(port_, UpgradeRequest("Bearer tok-a2"));
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "rate_limited");
  EXPECT_EQ(logic_.Calls<rpc::ConnectRequest>().size(), 2u);
  b.Close();
  ASSERT_TRUE(Eventually([&] { return node_->connection_count() == 1; }));
  Client a2(port_, "tok-a2");
  EXPECT_TRUE(a2.ok());

  // The cluster's own proxy is not counted per IP: it caps client addresses.
  node_->SetProxyAddresses({"127.0.0.1"});
  Client b2(port_, "tok-b");
  EXPECT_TRUE(b2.ok());
}

TEST_F(ConnectNodeTest, ANodeAtItsTotalCapRefusesWith503) {
  options_.conn.ws_connections_max = 2;
  Start();
  Client a1(port_, "tok-a1"), b(port_, "tok-b");
  ASSERT_TRUE(a1.ok() && b.ok());
  auto res = HttpExchange(port_, UpgradeRequest("Bearer tok-a2"));
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "unavailable");
  EXPECT_EQ(res[http::field::retry_after], "5");
}

TEST_F(ConnectNodeTest, InternalErrorsReachTheClientAsAGenericMessage) {
  logic_.Script<rpc::SyncRequest, rpc::SyncReply>([](const auto&, const auto&) {
    rpc::SyncReply r;
    Status::Internal("sqlite: disk I/O error in messages_by_conv").ToProto(r.mutable_error());
    return r;
  });
  logic_.Script<rpc::ReadRequest, rpc::ReadReply>([](const auto&, const auto&) {
    rpc::ReadReply r;
    Status::Unavailable("store: sqlite: database is locked").ToProto(r.mutable_error());
    return r;
  });
  Start();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  a.Send(R"({"type":"sync","conv":"p:1:2","id":"s1"})");
  json::object err = a.ReadJson();
  EXPECT_EQ(err.at("code").as_string(), "internal");
  EXPECT_EQ(err.at("message").as_string(), "internal error");
  EXPECT_EQ(err.at("id").as_string(), "s1");
  a.Send(R"({"type":"read","conv":"p:1:2","seq":1,"id":"r1"})");
  err = a.ReadJson();
  EXPECT_EQ(err.at("code").as_string(), "unavailable");
  EXPECT_EQ(err.at("message").as_string(), "temporarily unavailable; retry");
}

TEST_F(ConnectNodeTest, IdleConnectionIsDroppedAnsweringOneStays) {
  options_.conn.idle_timeout_ms = 400;
  Start();
  Client silent(port_, "tok-a1");  // never reads again: pings go unanswered
  Client live(port_, "tok-b");     // reads: Beast answers the pings
  ASSERT_TRUE(silent.ok() && live.ok());
  auto pusher = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(1200ms);
    rpc::PushRequest req;
    *req.add_events() = MsgEvent({2}, 1);
    return Push(req).delivered();
  });
  json::object m = live.ReadJson(5s);  // blocks ~1.2 s, answering pings meanwhile
  EXPECT_EQ(m.at("type").as_string(), "msg");
  EXPECT_EQ(pusher.get(), 1u);
  EXPECT_EQ(node_->connection_count(), 1u) << "the silent one is gone, the live one stays";
  ASSERT_TRUE(Eventually([&] { return Disconnects().size() == 1; }));
  EXPECT_EQ(Disconnects()[0].req.conn_id(), silent.conn_id());
}

TEST_F(ConnectNodeTest, DrainClosesWith1001ThenCallsDone) {
  Start();
  Client a(port_, "tok-a1"), b(port_, "tok-b");
  ASSERT_TRUE(a.ok() && b.ok());
  std::promise<void> drained;
  node_->Drain([&] { drained.set_value(); });
  EXPECT_EQ(a.WaitClosed(), 1001);
  EXPECT_EQ(b.WaitClosed(), 1001);
  ASSERT_EQ(drained.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(node_->connection_count(), 0u);
  EXPECT_TRUE(Eventually([&] { return Disconnects().size() == 2; }));
  // New upgrades are refused while draining.
  auto res = HttpExchange(port_, UpgradeRequest("Bearer tok-a1"));
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "unavailable");
}

TEST_F(ConnectNodeTest, DrainWithNoConnectionsIsPrompt) {
  Start();
  std::promise<void> drained;
  node_->Drain([&] { drained.set_value(); });
  EXPECT_EQ(drained.get_future().wait_for(1s), std::future_status::ready);
}

http::response<http::string_body> Get(uint16_t port, const std::string& target) {
  return HttpExchange(port, http::request<http::string_body>(http::verb::get, target, 11));
}

TEST_F(ConnectNodeTest, WsListenerServesUpgradesAndHealthWithoutTheApi) {
  StartWithListener();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  a.Send(SendFrame("via-listener"));
  EXPECT_EQ(a.ReadJson().at("type").as_string(), "ack");
  Client q(port_, "tok-b", /*token_in_query=*/true);
  ASSERT_TRUE(q.ok());

  auto res = HttpExchange(port_, UpgradeRequest("Bearer nope"));
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "unauthenticated");

  res = Get(port_, "/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(J(res.body()).at("status").as_string(), "ok");
  res = Get(port_, "/readyz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(J(res.body()).at("status").as_string(), "ready");
  // Clients learn that the node is not ready, never why (the reason may
  // quote the store).
  logic_.SetReady(Status::Unavailable("store: database is locked"));
  res = Get(port_, "/readyz");
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "unavailable");
  EXPECT_EQ(J(res.body()).at("error").at("message").as_string(), "not ready");
  logic_.SetReady(Status::Ok());

  // Metrics are for the admin port only.
  res = Get(port_, "/metrics");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res.body().find("parley_"), std::string::npos) << res.body();

  res = Get(port_, "/api/v1/users/me");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "not_found");
  res = Get(port_, "/ws");
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(J(res.body()).at("error").at("code").as_string(), "invalid_argument");

  // A draining node is not ready.
  std::promise<void> drained;
  node_->Drain([&] { drained.set_value(); });
  EXPECT_EQ(a.WaitClosed(), 1001);
  res = Get(port_, "/readyz");
  EXPECT_EQ(res.result_int(), 503);
  ASSERT_EQ(drained.get_future().wait_for(5s), std::future_status::ready);
}

http::response<http::string_body> GetWithToken(uint16_t port, const std::string& target,
                                               const std::string& authorization) {
  http::request<http::string_body> req(http::verb::get, target, 11);
  req.set(http::field::authorization, authorization);
  return HttpExchange(port, std::move(req));
}

TEST_F(ConnectNodeTest, AdminListenerServesMetricsAndWhyNotReadyButNoWebSocket) {
  StartWithListener();
  Client a(port_, "tok-a1");
  ASSERT_TRUE(a.ok());
  auto admin = WsListener::Admin(io_.get_executor(), options_, metrics_,
                                 [node = node_](auto done) { node->Ready(done); });
  ASSERT_OK(admin->Listen("127.0.0.1:0"));
  admin->Start();
  const uint16_t port = admin->port();

  auto res = Get(port, "/metrics");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4");
  EXPECT_NE(res.body().find("parley_ws_connections 1\n"), std::string::npos) << res.body();
  EXPECT_EQ(Get(port, "/healthz").result_int(), 200);
  EXPECT_EQ(Get(port, "/readyz").result_int(), 200);
  logic_.SetReady(Status::Unavailable("store: database is locked"));
  res = Get(port, "/readyz");
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(J(res.body()).at("error").at("message").as_string(), "store: database is locked");
  logic_.SetReady(Status::Ok());

  EXPECT_EQ(HttpExchange(port, UpgradeRequest("Bearer tok-b")).result_int(), 404);
  EXPECT_EQ(Get(port, "/api/v1/users/me").result_int(), 404);
  admin->StopAccepting();
}

TEST_F(ConnectNodeTest, AdminListenerWithATokenRefusesRequestsWithoutIt) {
  StartWithListener();
  Options options = options_;
  options.admin_token = "s3cret";
  auto admin = WsListener::Admin(io_.get_executor(), options, metrics_,
                                 [](auto done) { done(Status::Ok()); });
  ASSERT_OK(admin->Listen("127.0.0.1:0"));
  admin->Start();
  const uint16_t port = admin->port();
  for (const char* path : {"/metrics", "/readyz"}) {
    auto res = Get(port, path);
    EXPECT_EQ(res.result_int(), 401) << path;
    EXPECT_EQ(res[http::field::www_authenticate], "Bearer");
    EXPECT_EQ(GetWithToken(port, path, "Bearer s3creT").result_int(), 401) << path;
    EXPECT_EQ(GetWithToken(port, path, "Bearer s3cret2").result_int(), 401) << path;
    EXPECT_EQ(GetWithToken(port, path, "Bearer s3cret").result_int(), 200) << path;
  }
  // Liveness needs no secret: orchestrators probe it.
  EXPECT_EQ(Get(port, "/healthz").result_int(), 200);
  admin->StopAccepting();
}

TEST_F(ConnectNodeTest, WsListenerRefusesMalformedAddresses) {
  WsListener listener(
      io_.get_executor(), options_,
      *ConnectNode::Create(io_.get_executor(), "n", 1, options_, logic_, metrics_, clock_),
      metrics_, [](auto done) { done(Status::Ok()); });
  for (const char* address : {"127.0.0.1", ":80", "127.0.0.1:99999", "127.0.0.1:x", "127.0.0.1:"}) {
    EXPECT_EQ(listener.Listen(address).code(), Code::kInvalidArgument) << address;
  }
  EXPECT_EQ(listener.port(), 0);
}

}  // namespace
}  // namespace parley::connect

// WsProxy: a WebSocket upgrade that reaches an api process is carried to a
// live connect node, and the socket then behaves as if the client had
// connected to that node directly. Real sockets on loopback; the "connect
// node" is a Beast WebSocket echo server registered in a MemoryDiscovery.
#include "api/ws_proxy.h"

#include <sys/socket.h>

#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "discovery/memory/memory_discovery.h"
#include "support/server_process.h"
#include "support/test_util.h"

namespace parley::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Each stand-in below runs its own io_context on its own threads, stopped
// and joined in its destructor before its sockets go, so that nothing is
// torn down while another thread runs its handlers.

// A connect node stand-in: accepts WebSocket connections and echoes each
// message with a prefix naming the node.
class EchoNode {
 public:
  explicit EchoNode(std::string name)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), name_(std::move(name)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoNode() {
    io_.stop();
    thread_.join();
    // Unblock the echo threads (their sockets belong to io_), then wait.
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : echoes_) t.join();
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      // Blocking echo on a thread of its own: the client side is the test.
      {
        std::lock_guard lock(mu_);
        fds_.push_back(socket.native_handle());
      }
      echoes_.emplace_back([s = std::move(socket), name = name_]() mutable {
        boost::system::error_code ec;
        websocket::stream<tcp::socket> ws(std::move(s));
        ws.accept(ec);
        while (!ec) {
          beast::flat_buffer buf;
          ws.read(buf, ec);
          if (ec) break;
          ws.text(true);
          ws.write(asio::buffer(name + ":" + beast::buffers_to_string(buf.data())), ec);
        }
      });
      Accept();
    });
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::string name_;
  std::thread thread_;
  std::vector<std::thread> echoes_;  // only on thread_ until it is joined
  std::mutex mu_;
  std::vector<int> fds_;
};

// The api side: accepts, reads the HTTP request as the api's server does,
// and hands it to the proxy; the tunnels run on this port's io_context.
class ApiPort {
 public:
  explicit ApiPort(WsProxy& proxy)
      : work_(io_.get_executor()),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
        proxy_(proxy) {
    Accept();
    for (auto& t : threads_) t = std::thread([this] { io_.run(); });
  }
  ~ApiPort() {
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Accept() {
    acceptor_.async_accept(
        asio::make_strand(io_), [this](boost::system::error_code ec, tcp::socket socket) {
          if (ec) return;
          auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
          auto buf = std::make_shared<beast::flat_buffer>();
          auto req = std::make_shared<http::request<http::string_body>>();
          http::async_read(*stream, *buf, *req,
                           [this, stream, buf, req](boost::system::error_code ec, size_t) {
                             if (!ec) {
                               proxy_.Upgrade(std::move(*stream), std::move(*req), std::move(*buf));
                             }
                           });
          Accept();
        });
  }
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  WsProxy& proxy_;
  std::thread threads_[2];  // two, so that the tunnel's strand matters
};

class WsProxyTest : public ::testing::Test {
 protected:
  WsProxyTest() : work_(io_.get_executor()), discovery_(io_.get_executor()) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~WsProxyTest() override {
    registrations_.clear();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  void AddConnectNode(const std::string& id, const std::string& ws_address, uint64_t load) {
    discovery::NodeInfo n{id, "connect", "127.0.0.1:1", "ws://public.example/ws", load};
    n.ws_address = ws_address;
    auto reg = testing::Wait<StatusOr<std::unique_ptr<discovery::Registration>>>(
        [&](auto cb) { discovery_.Register(n, 10'000, cb); });
    ASSERT_OK(reg.status());
    registrations_.push_back(std::move(reg).value());
  }

  // Waits until the proxy's watch saw `n` targets.
  void AwaitTargets(WsProxy& proxy, size_t n) {
    for (int i = 0; i < 500 && proxy.Targets().size() != n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_EQ(proxy.Targets().size(), n);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  discovery::MemoryDiscovery discovery_;
  std::vector<std::unique_ptr<discovery::Registration>> registrations_;
  std::vector<std::thread> threads_;
};

std::string EchoThrough(uint16_t port, const std::string& text) {
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  ws.handshake("127.0.0.1", "/ws");
  ws.write(asio::buffer(text));
  beast::flat_buffer buf;
  ws.read(buf);
  return beast::buffers_to_string(buf.data());
}

TEST_F(WsProxyTest, AnUpgradeReachesALiveConnectNodeAndTheSocketCarriesFramesBothWays) {
  EchoNode node("connect-1");
  AddConnectNode("connect-1", node.address(), 0);
  WsProxy proxy(discovery_, {});
  AwaitTargets(proxy, 1);
  ApiPort api(proxy);
  EXPECT_EQ(EchoThrough(api.port(), "hello"), "connect-1:hello");
  EXPECT_EQ(EchoThrough(api.port(), "again"), "connect-1:again");
}

TEST_F(WsProxyTest, ANodeThatRefusesConnectionsIsSkipped) {
  // Nothing listens there.
  std::string dead_address = "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  EchoNode live("live");
  AddConnectNode("dead", dead_address, 0);  // least loaded, but gone
  AddConnectNode("live", live.address(), 5);
  WsProxy proxy(discovery_, {});
  AwaitTargets(proxy, 2);
  ApiPort api(proxy);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(EchoThrough(api.port(), "x"), "live:x");
}

TEST_F(WsProxyTest, WithNoConnectNodeTheClientGets503WithTheJsonErrorBody) {
  WsProxy proxy(discovery_, {});
  ApiPort api(proxy);
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), api.port()));
  http::request<http::empty_body> req(http::verb::get, "/ws", 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_NE(res.body().find("\"unavailable\""), std::string::npos) << res.body();
}

// Opens a WebSocket through the proxy and leaves it open.
std::unique_ptr<websocket::stream<tcp::socket>> OpenThrough(asio::io_context& io, uint16_t port) {
  auto ws = std::make_unique<websocket::stream<tcp::socket>>(io);
  ws->next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  ws->handshake("127.0.0.1", "/ws");
  return ws;
}

TEST_F(WsProxyTest, TunnelsFromOneClientAddressAreCappedAtTheProxyWith429) {
  EchoNode node("connect-1");
  AddConnectNode("connect-1", node.address(), 0);
  WsProxy proxy(discovery_, {.tunnels_max = 100, .tunnels_per_ip_max = 2});
  AwaitTargets(proxy, 1);
  ApiPort api(proxy);
  asio::io_context io;
  auto first = OpenThrough(io, api.port());
  auto second = OpenThrough(io, api.port());

  websocket::stream<tcp::socket> third(io);
  third.next_layer().connect({asio::ip::make_address("127.0.0.1"), api.port()});
  websocket::response_type res;
  boost::system::error_code ec;
  third.handshake(res, "127.0.0.1", "/ws", ec);
  EXPECT_TRUE(ec) << "refused";
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_NE(res.body().find("\"rate_limited\""), std::string::npos) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");

  first->close(websocket::close_code::normal);
  for (int i = 0; i < 500 && proxy.tunnels() > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(proxy.tunnels(), 1u) << "a closed tunnel gives its place back";
  EXPECT_EQ(EchoThrough(api.port(), "x"), "connect-1:x");
}

}  // namespace
}  // namespace parley::api

// Helpers for the rpc room's tests: a thread running an io_context, a fake
// logic node served over real gRPC on 127.0.0.1, registration in a
// MemoryDiscovery, and a listener that never answers.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "discovery/discovery.h"
#include "logic/testing/fake_logic.h"
#include "rpc/logic_grpc_server.h"
#include "support/test_util.h"

namespace parley::rpc::testing {

// An io_context with one thread, for answers posted by the clients and for
// MemoryDiscovery's watch handlers.
class IoThread {
 public:
  IoThread() : thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    thread_.join();
  }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread thread_;
};

inline std::string Loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

inline std::unique_ptr<discovery::Registration> RegisterNode(discovery::Discovery& discovery,
                                                             discovery::NodeInfo node) {
  auto reg = parley::testing::Wait<StatusOr<std::unique_ptr<discovery::Registration>>>(
      [&](auto cb) { discovery.Register(node, 10'000, cb); });
  EXPECT_TRUE(reg.ok()) << reg.status().message();
  return reg.ok() ? std::move(reg).value() : nullptr;
}

// Polls `done` every 5 ms for up to `timeout`.
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A FakeLogic behind a LogicGrpcServer on a free loopback port.
struct LogicNode {
  explicit LogicNode(GrpcServerOptions options = {}, const std::string& listen = "127.0.0.1:0")
      : server(std::make_unique<LogicGrpcServer>(fake, std::move(options))) {
    Status s = server->Listen(listen);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  std::string address() const { return Loopback(server->port()); }
  discovery::NodeInfo info(const std::string& id) const {
    discovery::NodeInfo n;
    n.node_id = id;
    n.role = "logic";
    n.address = address();
    return n;
  }

  logic::testing::FakeLogic fake;
  std::unique_ptr<LogicGrpcServer> server;  // after fake: stops first
};

// A TCP listener on 127.0.0.1 that never accepts: connections complete in
// the kernel and then hear nothing, as with a hung process.
class Blackhole {
 public:
  Blackhole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Blackhole() { Close(); }
  Blackhole(const Blackhole&) = delete;
  Blackhole& operator=(const Blackhole&) = delete;

  int port() const { return port_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace parley::rpc::testing

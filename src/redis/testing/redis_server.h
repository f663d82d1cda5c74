// RedisServer: a real redis-server (Debian's) for one test, on a free
// loopback port with its data in a temporary directory; by default durable
// as the cluster runs it (AOF, appendfsync always, no RDB snapshots).
//
//   parley::redis::testing::RedisServer redis;
//   ClientOptions options;
//   options.port = redis.port();
//   ...
//   redis.Kill();     // SIGKILL: a crash
//   redis.Restart();  // same dir and port, waits until it serves commands
//
// Link parley_redis_testing. Not thread-safe: one test thread drives it.
// The constructor and Restart() throw std::runtime_error when the server
// does not come up (a test then fails loudly).
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/server_process.h"
#include "support/test_util.h"

namespace parley::redis::testing {

class RedisServer {
 public:
  // `extra_args` are appended to redis-server's command line (later
  // arguments win, e.g. {"--appendonly", "no"}).
  explicit RedisServer(std::vector<std::string> extra_args = {})
      : port_(parley::testing::FreeLoopbackPort()), extra_args_(std::move(extra_args)) {
    Start();
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_.path(); }

  // SIGKILL: nothing is flushed that appendfsync did not already flush.
  void Kill() {
    if (process_) process_->Kill();
    process_.reset();
  }
  // SIGTERM (clean shutdown).
  void Stop() {
    if (process_) process_->Stop();
    process_.reset();
  }
  // Starts it again (stopping it first if it runs) on the same port and
  // directory, and waits until it has loaded its data.
  void Restart() {
    Kill();
    Start();
  }

 private:
  void Start() {
    std::vector<std::string> argv = {parley::testing::FindServerBinary("redis-server"),
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_.path(),
                                     "--appendonly",
                                     "yes",
                                     "--appendfsync",
                                     "always",
                                     "--save",
                                     "",
                                     "--daemonize",
                                     "no"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    process_ = std::make_unique<parley::testing::ServerProcess>(argv, dir_.path() + "/redis.log");
    if (!process_->WaitForPort(port_) || !WaitUntilServing()) {
      throw std::runtime_error("redis-server did not start; see " + dir_.path() + "/redis.log");
    }
  }

  // The port opens before an AOF is loaded (commands get -LOADING then).
  bool WaitUntilServing() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      timeval tv{1, 0};
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
      bool ok = false;
      if (c != nullptr && !c->err) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        // Any answer but -LOADING (-NOAUTH with --requirepass) means it serves.
        ok = r != nullptr && (r->type == REDIS_REPLY_STATUS ||
                              (r->type == REDIS_REPLY_ERROR &&
                               std::string_view(r->str, r->len).substr(0, 7) != "LOADING"));
        if (r != nullptr) freeReplyObject(r);
      }
      if (c != nullptr) redisFree(c);
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  parley::testing::TempDir dir_;
  const uint16_t port_;
  const std::vector<std::string> extra_args_;
  std::unique_ptr<parley::testing::ServerProcess> process_;
};

}  // namespace parley::redis::testing

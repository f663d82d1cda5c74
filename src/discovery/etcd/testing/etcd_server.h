// EtcdServer: a real etcd (Debian's /usr/bin/etcd) for tests, on loopback
// ports nobody holds, with its data in a temporary directory; stopped by its
// PID when destroyed. Tuned for quick tests: a 10 ms heartbeat and 100 ms
// election timeout make etcd's minimum lease TTL 1 s (with its defaults it
// is 2 s) and its start fast. Not thread-safe: one test thread drives it.
#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "discovery/etcd/etcd_client.h"
#include "support/server_process.h"
#include "support/test_util.h"

namespace parley::discovery::testing {

class EtcdServer {
 public:
  EtcdServer()
      : client_port_(parley::testing::FreeLoopbackPort()),
        peer_port_(parley::testing::FreeLoopbackPort()) {
    Start();
  }
  ~EtcdServer() { process_.reset(); }
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // host:port of the client URL (EtcdClientOptions::endpoints).
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }
  uint16_t client_port() const { return client_port_; }

  // Crash: SIGKILL. Restart() brings it back on the same ports and data.
  void Kill() { process_->Kill(); }
  void Restart() {
    process_.reset();
    Start();
  }
  // Freezes and thaws the process (a hung etcd: connections stay open).
  void Pause() { ::kill(process_->pid(), SIGSTOP); }
  void Resume() { ::kill(process_->pid(), SIGCONT); }

 private:
  void Start() {
    const std::string client_url = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> argv = {
        parley::testing::FindServerBinary("etcd"),
        "--name=default",
        "--data-dir=" + dir_.path() + "/data",
        "--listen-client-urls=" + client_url,
        "--advertise-client-urls=" + client_url,
        "--listen-peer-urls=" + peer_url,
        "--initial-advertise-peer-urls=" + peer_url,
        "--initial-cluster=default=" + peer_url,
        "--heartbeat-interval=10",
        "--election-timeout=100",
    };
    process_ = std::make_unique<parley::testing::ServerProcess>(argv, dir_.path() + "/etcd.log");
    if (!process_->WaitForPort(client_port_)) {
      throw std::runtime_error("etcd did not start; see " + dir_.path() + "/etcd.log");
    }
    // Listening is not serving: wait until a read goes through (a leader
    // is elected).
    EtcdClientOptions options;
    options.endpoints = endpoint();
    options.request_timeout_ms = 1'000;
    auto client = EtcdClient::Create(options);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      etcdserverpb::RangeRequest req;
      req.set_key("/");
      req.set_count_only(true);
      if (client.ok() && client.value()->RangeSync(req).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("etcd never served a read; see " + dir_.path() + "/etcd.log");
  }

  parley::testing::TempDir dir_;
  const uint16_t client_port_;
  const uint16_t peer_port_;
  std::unique_ptr<parley::testing::ServerProcess> process_;
};

}  // namespace parley::discovery::testing

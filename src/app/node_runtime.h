// NodeRuntime: what every process of a cluster has, whatever its role:
// network threads, metrics, a clock, the etcd discovery, its name and its
// registration there (whose epoch tells its incarnations apart), the
// /healthz, /readyz and /metrics endpoints, and the wait for SIGTERM.
//
// Used from the process's main thread: the methods below are called in the
// order they are declared, once each; the rest runs on the network threads.
// The runtime outlives every part of the role built on it (the role's parts
// are destroyed first, then the runtime stops the threads).
#pragma once

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/block.h"
#include "common/callback.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "connect/ws_listener.h"
#include "discovery/etcd/etcd_discovery.h"

namespace parley::app {

class NodeRuntime {
 public:
  NodeRuntime(std::string role, Options& options);
  ~NodeRuntime();
  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;

  // Starts the network threads and connects to etcd.
  Status Start();
  // This process's name in discovery: options.cluster.node_name, else
  // "<role>-<n>" with n allocated through etcd (held for the process's life).
  Status ResolveName();
  // A snowflake worker id (0-1023) unique among live processes, through
  // etcd; written to options.node_id.
  Status AllocateSnowflakeId();
  // Registers this node under its lease; the epoch is known afterwards. If
  // the lease is ever lost (etcd unreachable longer than the TTL), the
  // process stops as on SIGTERM: others have already taken over its role
  // (its partitions, its place in every peer's list), and a process manager
  // starts it again as a new epoch.
  Status Register(std::string address, std::string ws_url = "", std::string ws_address = "");
  // Serves the admin endpoints (/healthz, /readyz with its reason through
  // `ready`, /metrics; connect::WsListener::Admin) on `address`: options.listen
  // for processes without a client port (logic, task), options.admin_listen
  // for the others (api, connect), where "" serves nothing.
  Status ServeAdmin(connect::WsListener::ReadyCheck ready, const std::string& address);
  // Logs and prints why the process could not start; returns its exit code.
  int StartFailed(const Status& status) const;
  // Prints "parley <role> listening on <address>" (launchers wait for it).
  void Announce(const std::string& address);
  // Blocks until SIGTERM or SIGINT (or the lease is lost).
  void WaitForSignal();
  // Makes WaitForSignal return (thread-safe, idempotent).
  void RequestStop();
  // Withdraws the registration (others stop routing to this node at once).
  void Withdraw();
  // Lets queued handlers finish, then joins the threads.
  void Stop();

  boost::asio::any_io_executor executor() { return io_->get_executor(); }
  Metrics& metrics() { return metrics_; }
  const Clock& clock() const { return clock_; }
  discovery::EtcdDiscovery& discovery() { return *discovery_; }
  discovery::EtcdRegistration* registration() { return registration_.get(); }
  const std::string& role() const { return role_; }
  const std::string& name() const { return options_.cluster.node_name; }
  uint64_t epoch() const;
  // host:port actually bound by ServeAdmin ("" when it serves nothing).
  const std::string& admin_address() const { return admin_address_; }
  const Options& options() const { return options_; }

 private:
  const std::string role_;
  Options& options_;
  SystemClock clock_;
  Metrics metrics_;
  // Never destroyed (released by the destructor): after Stop(), gRPC's own
  // threads may still end streams that hold executors of it (etcd watches
  // of objects the role destroys last); the process exits right after.
  std::unique_ptr<boost::asio::io_context> io_ = std::make_unique<boost::asio::io_context>();
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<discovery::EtcdDiscovery> discovery_;
  std::unique_ptr<discovery::Registration> name_lease_;
  std::unique_ptr<discovery::Registration> snowflake_lease_;
  std::unique_ptr<discovery::EtcdRegistration> registration_;
  std::promise<void> stop_;
  // Installed by Start(), long before the "listening" line that launchers
  // answer with SIGTERM.
  std::unique_ptr<boost::asio::signal_set> signals_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<connect::WsListener> admin_;
  std::string admin_address_;
};

// "host:port" with the port actually bound.
std::string BoundAddress(const std::string& configured, uint16_t port);

}  // namespace parley::app

#include "app/node_runtime.h"

#include <cstdio>
#include <future>
#include <memory>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "common/thread_name.h"

namespace parley::app {

namespace asio = boost::asio;

namespace {

constexpr uint32_t kMaxNodeIndex = 1023;

}  // namespace

std::string BoundAddress(const std::string& configured, uint16_t port) {
  return configured.substr(0, configured.rfind(':')) + ":" + std::to_string(port);
}

NodeRuntime::NodeRuntime(std::string role, Options& options)
    : role_(std::move(role)), options_(options), work_(io_->get_executor()) {}

NodeRuntime::~NodeRuntime() {
  Stop();
  (void)io_.release();  // on purpose: see io_
}

Status NodeRuntime::Start() {
  signals_ = std::make_unique<asio::signal_set>(*io_, SIGTERM, SIGINT);
  signals_->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("event=shutdown signal={}", sig);
    RequestStop();
  });
  for (uint32_t i = 0; i < std::max(1u, options_.threads); ++i) {
    threads_.emplace_back([this, i] {
      NameThisThread("net-" + std::to_string(i));
      io_->run();
    });
  }
  discovery::EtcdDiscoveryOptions etcd;
  etcd.client.endpoints = options_.cluster.etcd;
  etcd.on_registration_lost = [this](const discovery::NodeInfo& node) {
    if (node.node_id != options_.cluster.node_name) return;
    spdlog::error("event=lease_lost role={} node={} epoch={}", role_, node.node_id, node.epoch);
    RequestStop();
  };
  auto d = discovery::EtcdDiscovery::Create(io_->get_executor(), etcd);
  if (!d.ok()) return d.status();
  discovery_ = std::move(d).value();
  return Status::Ok();
}

Status NodeRuntime::ResolveName() {
  if (!options_.cluster.node_name.empty()) return Status::Ok();
  auto lease = Block<StatusOr<std::unique_ptr<discovery::Registration>>>([&](auto cb) {
    discovery_->AllocateId("name-" + role_, kMaxNodeIndex, options_.cluster.lease_ttl_ms, cb);
  });
  if (!lease.ok()) return lease.status();
  name_lease_ = std::move(lease).value();
  options_.cluster.node_name = role_ + "-" + name_lease_->node().node_id;
  return Status::Ok();
}

Status NodeRuntime::AllocateSnowflakeId() {
  auto lease = Block<StatusOr<std::unique_ptr<discovery::Registration>>>([&](auto cb) {
    discovery_->AllocateId("snowflake", kMaxNodeIndex, options_.cluster.lease_ttl_ms, cb);
  });
  if (!lease.ok()) return lease.status();
  snowflake_lease_ = std::move(lease).value();
  options_.node_id = static_cast<uint32_t>(std::stoul(snowflake_lease_->node().node_id));
  return Status::Ok();
}

Status NodeRuntime::Register(std::string address, std::string ws_url, std::string ws_address) {
  discovery::NodeInfo info;
  info.node_id = options_.cluster.node_name;
  info.role = role_;
  info.address = std::move(address);
  info.ws_url = std::move(ws_url);
  info.ws_address = std::move(ws_address);
  auto reg = Block<StatusOr<std::unique_ptr<discovery::EtcdRegistration>>>(
      [&](auto cb) { discovery_->RegisterWithLease(info, options_.cluster.lease_ttl_ms, cb); });
  if (!reg.ok()) return reg.status();
  registration_ = std::move(reg).value();
  spdlog::info("event=registered role={} node={} epoch={} address={}", role_, info.node_id,
               registration_->node().epoch, info.address);
  return Status::Ok();
}

uint64_t NodeRuntime::epoch() const { return registration_ ? registration_->node().epoch : 0; }

Status NodeRuntime::ServeAdmin(connect::WsListener::ReadyCheck ready, const std::string& address) {
  if (address.empty()) {
    spdlog::info("event=admin_off role={} reason=\"admin_listen is empty\"", role_);
    return Status::Ok();
  }
  admin_ = connect::WsListener::Admin(io_->get_executor(), options_, metrics_, std::move(ready));
  if (Status s = admin_->Listen(address); !s.ok()) {
    return Status(s.code(), "admin listener: " + s.message());
  }
  admin_address_ = BoundAddress(address, admin_->port());
  admin_->Start();
  spdlog::info("event=admin_listen role={} address={}", role_, admin_address_);
  return Status::Ok();
}

int NodeRuntime::StartFailed(const Status& status) const {
  spdlog::critical("event=start_failed role={} error=\"{}\"", role_, status.message());
  std::fprintf(stderr, "parley %s: %s\n", role_.c_str(), status.message().c_str());
  return 1;
}

void NodeRuntime::Announce(const std::string& address) {
  spdlog::info("event=listening role={} node={} address={}", role_, name(), address);
  std::printf("parley %s listening on %s\n", role_.c_str(), address.c_str());
  std::fflush(stdout);
}

void NodeRuntime::RequestStop() {
  if (!stopping_.exchange(true)) stop_.set_value();
}

void NodeRuntime::WaitForSignal() {
  stop_.get_future().wait();
  boost::system::error_code ignored;
  if (signals_) signals_->cancel(ignored);
}

void NodeRuntime::Withdraw() {
  if (registration_) registration_->Close();
}

void NodeRuntime::Stop() {
  if (threads_.empty()) return;
  if (admin_) admin_->StopAccepting();
  registration_.reset();
  snowflake_lease_.reset();
  name_lease_.reset();
  discovery_.reset();
  work_.reset();
  // The role drained its work before calling Stop(); run the handlers still
  // queued (completions of that drain), then stop. Waiting for the
  // io_context to run out would wait for ever: long-lived operations (Redis
  // connections, discovery watches of clients that live until the role
  // returns, recurring timers) keep it busy. A marker posted after the
  // queued handlers runs once they have; a few rounds cover handlers that
  // queue others.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (int round = 0; round < 4 && !io_->stopped(); ++round) {
    auto ran = std::make_shared<std::promise<void>>();
    std::future<void> done = ran->get_future();
    asio::post(*io_, [ran] { ran->set_value(); });
    if (done.wait_until(deadline) != std::future_status::ready) break;
  }
  io_->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  spdlog::info("event=stopped role={}", role_);
}

}  // namespace parley::app

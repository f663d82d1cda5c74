#include "discovery/memory/memory_discovery.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace parley::discovery {

namespace asio = boost::asio;

namespace {

struct WatchState {
  WatchState(asio::any_io_executor executor, std::string role_in,
             std::function<void(std::vector<NodeInfo>)> handler_in)
      : strand(asio::make_strand(executor)),
        role(std::move(role_in)),
        handler(std::move(handler_in)) {}

  asio::strand<asio::any_io_executor> strand;
  const std::string role;
  // Held while the handler runs, so that the watch's destructor waits for a
  // call in progress; recursive, so that a handler may destroy its own watch.
  std::recursive_mutex mu;
  bool stopped = false;  // guarded by mu
  std::function<void(std::vector<NodeInfo>)> handler;
};

Status CheckTtl(int64_t ttl_ms) {
  if (ttl_ms <= 0) return Status::InvalidArgument("lease ttl_ms must be positive");
  return Status::Ok();
}

}  // namespace

struct MemoryDiscovery::State {
  explicit State(asio::any_io_executor executor_in) : executor(std::move(executor_in)) {}

  // The live nodes of `role`: connect nodes least loaded first, the others
  // by node id. Requires mu.
  std::vector<NodeInfo> ListLocked(const std::string& role) const {
    std::vector<NodeInfo> out;
    for (auto it = nodes.lower_bound({role, ""}); it != nodes.end() && it->first.first == role;
         ++it) {
      out.push_back(it->second);
    }
    if (role == "connect") {
      std::stable_sort(out.begin(), out.end(),
                       [](const NodeInfo& a, const NodeInfo& b) { return a.load < b.load; });
    }
    return out;
  }

  // Queues the new list of `role` on each of its watches. Posting under mu
  // keeps every watch's calls in the order of the changes.
  void NotifyLocked(const std::string& role) {
    std::vector<NodeInfo> list = ListLocked(role);
    for (const auto& watch : watches) {
      if (watch->role != role) continue;
      asio::post(watch->strand, [watch, list] { Deliver(*watch, list); });
    }
  }

  static void Deliver(WatchState& watch, std::vector<NodeInfo> list) {
    std::lock_guard lock(watch.mu);
    if (!watch.stopped) watch.handler(std::move(list));
  }

  const asio::any_io_executor executor;
  std::mutex mu;
  // State below is protected by mu.
  uint64_t next_epoch = 1;
  std::map<std::pair<std::string, std::string>, NodeInfo> nodes;  // (role, node_id)
  std::map<std::string, std::map<uint32_t, uint64_t>> ids;        // scope -> id -> epoch
  std::vector<std::shared_ptr<WatchState>> watches;
};

namespace {

class NodeRegistration final : public Registration {
 public:
  NodeRegistration(std::shared_ptr<MemoryDiscovery::State> state, NodeInfo node)
      : state_(std::move(state)), node_(std::move(node)) {}
  ~NodeRegistration() override { Close(); }

  const NodeInfo& node() const override { return node_; }

  void ReportLoad(uint64_t load) override {
    std::lock_guard lock(state_->mu);
    auto it = state_->nodes.find({node_.role, node_.node_id});
    if (it == state_->nodes.end() || it->second.epoch != node_.epoch) return;  // withdrawn
    if (it->second.load == load) return;
    it->second.load = load;
    state_->NotifyLocked(node_.role);
  }

  void Close() override {
    std::lock_guard lock(state_->mu);
    auto it = state_->nodes.find({node_.role, node_.node_id});
    if (it == state_->nodes.end() || it->second.epoch != node_.epoch) return;
    state_->nodes.erase(it);
    state_->NotifyLocked(node_.role);
  }

 private:
  const std::shared_ptr<MemoryDiscovery::State> state_;
  const NodeInfo node_;  // as registered, with its epoch
};

// node(): node_id is the id in decimal, role the scope.
class IdRegistration final : public Registration {
 public:
  IdRegistration(std::shared_ptr<MemoryDiscovery::State> state, uint32_t id, NodeInfo node)
      : state_(std::move(state)), id_(id), node_(std::move(node)) {}
  ~IdRegistration() override { Close(); }

  const NodeInfo& node() const override { return node_; }
  void ReportLoad(uint64_t) override {}

  void Close() override {
    std::lock_guard lock(state_->mu);
    auto scope = state_->ids.find(node_.role);
    if (scope == state_->ids.end()) return;
    auto it = scope->second.find(id_);
    if (it != scope->second.end() && it->second == node_.epoch) scope->second.erase(it);
  }

 private:
  const std::shared_ptr<MemoryDiscovery::State> state_;
  const uint32_t id_;
  const NodeInfo node_;
};

class MemoryWatch final : public Watch {
 public:
  MemoryWatch(std::shared_ptr<MemoryDiscovery::State> state, std::shared_ptr<WatchState> watch)
      : state_(std::move(state)), watch_(std::move(watch)) {}
  ~MemoryWatch() override {
    {
      std::lock_guard lock(state_->mu);
      std::erase(state_->watches, watch_);
    }
    // Waits for a call in progress on another thread; calls queued behind it
    // see `stopped` and do nothing.
    std::lock_guard lock(watch_->mu);
    watch_->stopped = true;
  }

 private:
  const std::shared_ptr<MemoryDiscovery::State> state_;
  const std::shared_ptr<WatchState> watch_;
};

}  // namespace

MemoryDiscovery::MemoryDiscovery(asio::any_io_executor executor)
    : state_(std::make_shared<State>(std::move(executor))) {}

MemoryDiscovery::~MemoryDiscovery() = default;

void MemoryDiscovery::Register(NodeInfo node, int64_t ttl_ms,
                               Callback<StatusOr<std::unique_ptr<Registration>>> done) {
  if (Status s = CheckTtl(ttl_ms); !s.ok()) return done(s);
  if (node.node_id.empty() || node.role.empty()) {
    return done(Status::InvalidArgument("a node needs a node_id and a role"));
  }
  {
    std::lock_guard lock(state_->mu);
    auto [it, inserted] = state_->nodes.try_emplace({node.role, node.node_id});
    if (!inserted) {
      return done(
          Status::AlreadyExists("a live " + node.role + " node already holds id " + node.node_id));
    }
    node.epoch = state_->next_epoch++;
    it->second = node;
    state_->NotifyLocked(node.role);
  }
  done(std::unique_ptr<Registration>(std::make_unique<NodeRegistration>(state_, std::move(node))));
}

void MemoryDiscovery::Nodes(std::string role, Callback<StatusOr<std::vector<NodeInfo>>> done) {
  std::vector<NodeInfo> list;
  {
    std::lock_guard lock(state_->mu);
    list = state_->ListLocked(role);
  }
  done(std::move(list));
}

std::unique_ptr<Watch> MemoryDiscovery::WatchRole(
    std::string role, std::function<void(std::vector<NodeInfo>)> handler) {
  auto watch = std::make_shared<WatchState>(state_->executor, role, std::move(handler));
  {
    std::lock_guard lock(state_->mu);
    state_->watches.push_back(watch);
    std::vector<NodeInfo> initial = state_->ListLocked(role);
    asio::post(watch->strand, [watch, initial = std::move(initial)] {
      State::Deliver(*watch, std::move(initial));
    });
  }
  return std::make_unique<MemoryWatch>(state_, std::move(watch));
}

void MemoryDiscovery::AllocateId(std::string scope, uint32_t max_id, int64_t ttl_ms,
                                 Callback<StatusOr<std::unique_ptr<Registration>>> done) {
  if (Status s = CheckTtl(ttl_ms); !s.ok()) return done(s);
  NodeInfo node;
  uint32_t id = 0;
  {
    std::lock_guard lock(state_->mu);
    std::map<uint32_t, uint64_t>& taken = state_->ids[scope];
    // The lowest free id: ids are small and dense (snowflake node ids).
    for (const auto& [held, epoch] : taken) {
      if (held != id) break;
      ++id;
    }
    if (id > max_id) {
      return done(Status::Unavailable("every id of " + scope + " up to " + std::to_string(max_id) +
                                      " is taken"));
    }
    node.node_id = std::to_string(id);
    node.role = scope;
    node.epoch = state_->next_epoch++;
    taken[id] = node.epoch;
  }
  done(
      std::unique_ptr<Registration>(std::make_unique<IdRegistration>(state_, id, std::move(node))));
}

}  // namespace parley::discovery

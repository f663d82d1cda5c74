#include "discovery/etcd/etcd_partition_owner.h"

#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "discovery/etcd/prefix_watcher.h"

namespace parley::discovery {

namespace asio = boost::asio;
namespace pb = etcdserverpb;

Status ValidateEtcdPartitionOwnerOptions(const EtcdPartitionOwnerOptions& o) {
  if (o.partitions < 1 || o.partitions > o.max_partitions) {
    return Status::InvalidArgument("partitions must be in [1, max_partitions]");
  }
  if (o.vnodes_per_node < 1 || o.vnodes_per_node > kMaxVnodesPerNode) {
    return Status::InvalidArgument("vnodes_per_node must be in [1, " +
                                   std::to_string(kMaxVnodesPerNode) + "]");
  }
  if (o.key_prefix.size() < 2 || o.key_prefix.front() != '/' || o.key_prefix.back() != '/') {
    return Status::InvalidArgument("partition key_prefix must start and end with '/'");
  }
  if (o.role.empty() || o.role.find('/') != std::string::npos) {
    return Status::InvalidArgument("partition owner role must be a name without '/'");
  }
  if (o.retry_ms < 10 || o.retry_ms > 600'000) {
    return Status::InvalidArgument("partition retry_ms must be in [10, 600000]");
  }
  return Status::Ok();
}

struct EtcdPartitionOwner::State : std::enable_shared_from_this<State> {
  State(std::shared_ptr<EtcdClient> client_in, asio::any_io_executor executor,
        EtcdPartitionOwnerOptions options_in, const EtcdRegistration& self, Handler handler_in)
      : work(asio::prefer(executor, asio::execution::outstanding_work.tracked)),
        client(std::move(client_in)),
        strand(asio::make_strand(executor)),
        timer(strand),
        options(std::move(options_in)),
        prefix(options.key_prefix + "partitions/"),
        node_id(self.node().node_id),
        value(self.node().node_id + "@" + std::to_string(self.node().epoch)),
        lease(self.lease_id()),
        handler(std::move(handler_in)) {}

  std::string Key(uint32_t p) const { return prefix + std::to_string(p); }

  // The partition of a key under prefix, or -1.
  int64_t PartitionOf(const std::string& key) const {
    std::string tail = key.substr(prefix.size());
    if (tail.empty() || tail.size() > 9 ||
        tail.find_first_not_of("0123456789") != std::string::npos)
      return -1;
    int64_t p = std::stoll(tail);
    return p < options.partitions ? p : -1;
  }

  void MembersChanged(const std::vector<NodeInfo>& nodes) {
    std::lock_guard lock(mu);
    members.clear();
    for (const NodeInfo& n : nodes) members.push_back(n.node_id);
    members_known = true;
    ReconcileLocked();
  }

  void KeysChanged(const PrefixWatcher::Snapshot& snapshot, int64_t revision) {
    std::lock_guard lock(mu);
    keys = snapshot;
    keys_revision = revision;
    keys_known = true;
    ReconcileLocked();
  }

  void Tick() {
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      ReconcileLocked();
    }
    timer.expires_after(std::chrono::milliseconds(options.retry_ms));
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->Tick();
    });
  }

  // Brings what is held toward what is desired. Requires mu.
  void ReconcileLocked() {
    if (stopped) return;
    desired.clear();
    if (!lost && members_known) {
      std::vector<std::string> owners =
          AssignPartitions(options.partitions, members, options.vnodes_per_node);
      for (uint32_t p = 0; p < owners.size(); ++p) {
        if (owners[p] == node_id) desired.insert(p);
      }
    }
    bool changed = false;
    std::vector<uint32_t> to_delete;
    if (keys_known) {
      // Held partitions whose key is no longer ours in a listing at least as
      // new as our acquisition: our lease expired. Dropped, nothing to delete.
      for (auto it = held.begin(); it != held.end();) {
        auto key = keys.find(Key(*it));
        if (held_since[*it] <= keys_revision &&
            (key == keys.end() || key->second.lease() != lease)) {
          spdlog::warn("event=partition_lost partition={} node={}", *it, node_id);
          held_since.erase(*it);
          it = held.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
      // Keys under our lease that we do not track (an answer that never
      // came back): adopted if desired, else deleted.
      for (const auto& [key, kv] : keys) {
        if (kv.lease() != lease) continue;
        const int64_t p = PartitionOf(key);
        if (p < 0) continue;
        const auto part = static_cast<uint32_t>(p);
        if (held.contains(part) || acquiring.contains(part) || releasing.contains(part)) continue;
        // A listing older than our own delete still shows the key.
        if (auto r = released_at.find(part); r != released_at.end() && r->second > keys_revision) {
          continue;
        }
        if (desired.contains(part)) {
          held.insert(part);
          held_since[part] = kv.create_revision();
          changed = true;
        } else {
          releasing.insert(part);
          to_delete.push_back(part);
        }
      }
    }
    for (auto it = held.begin(); it != held.end();) {
      if (desired.contains(*it)) {
        ++it;
        continue;
      }
      releasing.insert(*it);
      to_delete.push_back(*it);
      held_since.erase(*it);
      it = held.erase(it);
      changed = true;
    }
    if (changed || !to_delete.empty()) NotifyThenDeleteLocked(changed, std::move(to_delete));

    for (uint32_t p : desired) {
      if (held.contains(p) || acquiring.contains(p) || releasing.contains(p)) continue;
      if (keys_known) {
        auto key = keys.find(Key(p));
        if (key != keys.end() && key->second.lease() != lease) continue;  // wait for its release
      }
      acquiring.insert(p);
      Acquire(p);
    }
  }

  void Acquire(uint32_t p) {
    pb::TxnRequest txn;
    pb::Compare* cmp = txn.add_compare();
    cmp->set_key(Key(p));
    cmp->set_target(pb::Compare::CREATE);
    cmp->set_result(pb::Compare::EQUAL);
    cmp->set_create_revision(0);
    pb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(Key(p));
    put->set_value(value);
    put->set_lease(lease);
    client->Txn(std::move(txn), [self = shared_from_this(), p](StatusOr<pb::TxnResponse> r) {
      std::lock_guard lock(self->mu);
      self->acquiring.erase(p);
      if (!r.ok()) {
        spdlog::debug("event=partition_acquire_failed partition={} msg=\"{}\"", p,
                      r.status().message());
        return;  // the next tick tries again
      }
      if (!r->succeeded()) return;  // held by another; its release is watched
      if (self->stopped || self->lost || !self->desired.contains(p)) {
        self->releasing.insert(p);
        self->NotifyThenDeleteLocked(false, {p});
        return;
      }
      self->held.insert(p);
      self->held_since[p] = r->header().revision();
      self->NotifyThenDeleteLocked(true, {});
    });
  }

  // Tells the handler the new set (if it changed), then, once it has
  // returned, deletes the released keys. Requires mu.
  void NotifyThenDeleteLocked(bool notify, std::vector<uint32_t> to_delete) {
    std::optional<std::set<uint32_t>> now;
    if (notify) now = held;
    asio::post(strand,
               [self = shared_from_this(), now = std::move(now), to_delete = std::move(to_delete)] {
                 if (now) {
                   std::lock_guard lock(self->handler_mu);
                   if (!self->handler_stopped) self->handler(*now);
                 }
                 for (uint32_t p : to_delete) self->Delete(p);
               });
  }

  pb::TxnRequest DeleteIfOurs(uint32_t p) const {
    pb::TxnRequest txn;
    pb::Compare* cmp = txn.add_compare();
    cmp->set_key(Key(p));
    cmp->set_target(pb::Compare::LEASE);
    cmp->set_result(pb::Compare::EQUAL);
    cmp->set_lease(lease);
    txn.add_success()->mutable_request_delete_range()->set_key(Key(p));
    return txn;
  }

  void Delete(uint32_t p) {
    client->Txn(DeleteIfOurs(p), [self = shared_from_this(), p](StatusOr<pb::TxnResponse> r) {
      std::lock_guard lock(self->mu);
      if (!r.ok()) {
        // Still ours in etcd: kept out of `held`, retried by the next tick
        // through the adoption path (deleted, or adopted if desired again).
        spdlog::debug("event=partition_release_failed partition={} msg=\"{}\"", p,
                      r.status().message());
      } else {
        self->released_at[p] = r->header().revision();
      }
      self->releasing.erase(p);
      self->ReconcileLocked();
    });
  }

  // Counts as work of the executor's io_context while the state lives: the
  // etcd calls' callbacks run on gRPC threads and may drop the last
  // reference after the owner is gone, destroying the timers (this one, the
  // keys watcher's) that belong to that context; so the context must not
  // finish (and be destroyed) before. Declared first: released last.
  const asio::any_io_executor work;
  const std::shared_ptr<EtcdClient> client;
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;  // used on strand only
  const EtcdPartitionOwnerOptions options;
  const std::string prefix;   // <key_prefix>partitions/
  const std::string node_id;  // this node
  const std::string value;    // "<node_id>@<epoch>"
  const int64_t lease;
  const Handler handler;

  // Set by Start, reset by Stop.
  std::unique_ptr<Watch> members_watch;
  std::shared_ptr<PrefixWatcher> keys_watcher;

  std::mutex mu;
  // State below is protected by mu.
  bool stopped = false;
  bool lost = false;
  bool members_known = false;
  std::vector<std::string> members;
  bool keys_known = false;
  PrefixWatcher::Snapshot keys;
  int64_t keys_revision = 0;
  std::set<uint32_t> desired;
  std::set<uint32_t> held;
  std::map<uint32_t, int64_t> held_since;  // partition -> revision of its creation
  std::set<uint32_t> acquiring;
  std::set<uint32_t> releasing;
  std::map<uint32_t, int64_t> released_at;  // partition -> revision of our last delete

  // Held while the handler runs; recursive, so that the handler may Stop.
  std::recursive_mutex handler_mu;
  bool handler_stopped = false;  // guarded by handler_mu
};

StatusOr<std::unique_ptr<EtcdPartitionOwner>> EtcdPartitionOwner::Start(
    EtcdDiscovery& discovery, const EtcdRegistration& self, EtcdPartitionOwnerOptions options,
    Handler handler) {
  if (Status s = ValidateEtcdPartitionOwnerOptions(options); !s.ok()) return s;
  auto state = std::make_shared<State>(discovery.client(), discovery.executor(), std::move(options),
                                       self, std::move(handler));
  std::weak_ptr<State> weak = state;
  state->members_watch =
      discovery.WatchRole(state->options.role, [weak](std::vector<NodeInfo> nodes) {
        if (auto s = weak.lock()) s->MembersChanged(nodes);
      });
  state->keys_watcher = PrefixWatcher::Start(
      discovery.client(), discovery.executor(), state->prefix, discovery.options().watch,
      [weak](const PrefixWatcher::Snapshot& snapshot, int64_t revision) {
        if (auto s = weak.lock()) s->KeysChanged(snapshot, revision);
      });
  asio::post(state->strand, [state] { state->Tick(); });
  return std::unique_ptr<EtcdPartitionOwner>(new EtcdPartitionOwner(std::move(state)));
}

EtcdPartitionOwner::EtcdPartitionOwner(std::shared_ptr<State> state) : state_(std::move(state)) {}

EtcdPartitionOwner::~EtcdPartitionOwner() { Stop(true); }

void EtcdPartitionOwner::Stop(bool release) {
  std::set<uint32_t> to_delete;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return;
    state_->stopped = true;
    if (release) to_delete = state_->held;
    state_->held.clear();
  }
  // Outside mu: the watches' handlers take it, and their Stop waits for them.
  state_->members_watch.reset();
  state_->keys_watcher->Stop();
  {
    std::lock_guard lock(state_->handler_mu);
    state_->handler_stopped = true;
  }
  for (uint32_t p : to_delete) {
    StatusOr<pb::TxnResponse> r = state_->client->TxnSync(state_->DeleteIfOurs(p));
    if (!r.ok()) {
      spdlog::warn("event=partition_release_failed partition={} msg=\"{}\" (goes with the lease)",
                   p, r.status().message());
    }
  }
  asio::post(state_->strand, [state = state_] { state->timer.cancel(); });
}

void EtcdPartitionOwner::LeaseLost() {
  std::lock_guard lock(state_->mu);
  if (state_->lost || state_->stopped) return;
  state_->lost = true;
  state_->held.clear();
  state_->held_since.clear();
  state_->NotifyThenDeleteLocked(true, {});
}

std::set<uint32_t> EtcdPartitionOwner::held() const {
  std::lock_guard lock(state_->mu);
  return state_->held;
}

}  // namespace parley::discovery

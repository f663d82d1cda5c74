#include "discovery/etcd/etcd_discovery.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

namespace parley::discovery {

namespace asio = boost::asio;
namespace json = boost::json;
namespace pb = etcdserverpb;

namespace {

std::string EncodeNode(const NodeInfo& node) {
  json::object o;
  o["address"] = node.address;
  o["ws_url"] = node.ws_url;
  if (!node.ws_address.empty()) o["ws_address"] = node.ws_address;
  o["load"] = node.load;
  return json::serialize(o);
}

// The node behind a key under `role_prefix`; false for a value that is not
// Parley's (skipped, never fatal: etcd is shared).
bool DecodeNode(const mvccpb::KeyValue& kv, const std::string& role_prefix, const std::string& role,
                NodeInfo* node) {
  boost::system::error_code ec;
  json::value v = json::parse(kv.value(), ec);
  if (ec || !v.is_object()) return false;
  const json::object& o = v.as_object();
  node->node_id = kv.key().substr(role_prefix.size());
  node->role = role;
  node->epoch = static_cast<uint64_t>(kv.create_revision());
  if (const json::value* a = o.if_contains("address"); a && a->is_string()) {
    node->address = std::string(a->as_string());
  }
  if (const json::value* w = o.if_contains("ws_address"); w && w->is_string()) {
    node->ws_address = std::string(w->as_string());
  }
  if (const json::value* w = o.if_contains("ws_url"); w && w->is_string()) {
    node->ws_url = std::string(w->as_string());
  }
  if (const json::value* l = o.if_contains("load"); l) {
    if (l->is_uint64()) node->load = l->as_uint64();
    if (l->is_int64() && l->as_int64() >= 0) node->load = static_cast<uint64_t>(l->as_int64());
  }
  return true;
}

// Live nodes from a listing: key order (node id), connect nodes least loaded
// first.
template <typename KeyValues>
std::vector<NodeInfo> NodesFrom(const KeyValues& kvs, const std::string& role_prefix,
                                const std::string& role) {
  std::vector<NodeInfo> out;
  for (const mvccpb::KeyValue& kv : kvs) {
    NodeInfo node;
    if (DecodeNode(kv, role_prefix, role, &node)) out.push_back(std::move(node));
  }
  if (role == "connect") {
    std::stable_sort(out.begin(), out.end(),
                     [](const NodeInfo& a, const NodeInfo& b) { return a.load < b.load; });
  }
  return out;
}

pb::TxnRequest CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease) {
  pb::TxnRequest txn;
  pb::Compare* cmp = txn.add_compare();
  cmp->set_key(key);
  cmp->set_target(pb::Compare::CREATE);
  cmp->set_result(pb::Compare::EQUAL);
  cmp->set_create_revision(0);
  pb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  return txn;
}

void RevokeQuietly(const std::shared_ptr<EtcdClient>& client, int64_t lease) {
  pb::LeaseRevokeRequest req;
  req.set_id(lease);
  client->LeaseRevoke(std::move(req), [](StatusOr<pb::LeaseRevokeResponse>) {});
}

// Runs `done(value)` on `executor` (callbacks of the Discovery interface
// never run on gRPC's threads).
template <typename T>
void PostDone(const asio::any_io_executor& executor, Callback<T> done, T value) {
  auto shared = std::make_shared<T>(std::move(value));
  asio::post(executor, [done = std::move(done), shared] { done(std::move(*shared)); });
}

class EtcdRegistrationImpl final : public EtcdRegistration {
 public:
  EtcdRegistrationImpl(std::shared_ptr<EtcdClient> client, std::string key, NodeInfo node,
                       int64_t lease_id, bool reports_load)
      : client_(std::move(client)),
        key_(std::move(key)),
        node_(std::move(node)),
        lease_id_(lease_id),
        reports_load_(reports_load),
        load_(node_.load) {}
  ~EtcdRegistrationImpl() override { Close(); }

  void Keep(asio::any_io_executor executor, int64_t ttl_s, LeaseKeeperOptions options,
            std::function<void(const NodeInfo&)> on_lost) {
    keeper_ = LeaseKeeper::Start(client_, std::move(executor), lease_id_, ttl_s, options,
                                 [node = node_, on_lost = std::move(on_lost)] {
                                   if (on_lost) on_lost(node);
                                 });
  }

  const NodeInfo& node() const override { return node_; }
  int64_t lease_id() const override { return lease_id_; }
  bool lost() const override { return keeper_->lost(); }

  void ReportLoad(uint64_t load) override {
    std::lock_guard lock(mu_);
    if (closed_ || !reports_load_ || load == load_ || keeper_->lost()) return;
    NodeInfo updated = node_;
    updated.load = load;
    // Only over our own incarnation of the key (its create revision is our
    // epoch), never over a later registration of the same id.
    pb::TxnRequest txn;
    pb::Compare* cmp = txn.add_compare();
    cmp->set_key(key_);
    cmp->set_target(pb::Compare::CREATE);
    cmp->set_result(pb::Compare::EQUAL);
    cmp->set_create_revision(static_cast<int64_t>(node_.epoch));
    pb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(key_);
    put->set_value(EncodeNode(updated));
    put->set_lease(lease_id_);
    StatusOr<pb::TxnResponse> r = client_->TxnSync(std::move(txn));
    if (!r.ok()) {
      spdlog::warn("event=etcd_report_load_failed key={} msg=\"{}\"", key_, r.status().message());
      return;
    }
    if (r->succeeded()) load_ = load;
  }

  void Abandon() override {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (keeper_) keeper_->Stop();
  }

  void Close() override {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (keeper_) keeper_->Stop();
    pb::LeaseRevokeRequest req;
    req.set_id(lease_id_);
    StatusOr<pb::LeaseRevokeResponse> r = client_->LeaseRevokeSync(std::move(req));
    if (!r.ok() && !r.status().IsNotFound()) {
      // The key goes when the lease expires, within its TTL.
      spdlog::warn("event=etcd_revoke_failed key={} msg=\"{}\"", key_, r.status().message());
    }
  }

 private:
  const std::shared_ptr<EtcdClient> client_;
  const std::string key_;
  const NodeInfo node_;  // as registered, with its epoch
  const int64_t lease_id_;
  const bool reports_load_;
  std::shared_ptr<LeaseKeeper> keeper_;  // set once, before the registration is handed out

  std::mutex mu_;  // serializes ReportLoad and Close
  bool closed_ = false;
  uint64_t load_;  // as last written; guarded by mu_
};

class EtcdWatch final : public Watch {
 public:
  explicit EtcdWatch(std::shared_ptr<PrefixWatcher> watcher) : watcher_(std::move(watcher)) {}
  ~EtcdWatch() override { watcher_->Stop(); }

 private:
  const std::shared_ptr<PrefixWatcher> watcher_;
};

bool ValidName(const std::string& s, size_t max) {
  return !s.empty() && s.size() <= max && s.find('/') == std::string::npos;
}

}  // namespace

Status ValidateEtcdDiscoveryOptions(const EtcdDiscoveryOptions& o) {
  if (Status s = ValidateEtcdClientOptions(o.client); !s.ok()) return s;
  if (o.key_prefix.size() < 2 || o.key_prefix.front() != '/' || o.key_prefix.back() != '/' ||
      o.key_prefix.size() > 256) {
    return Status::InvalidArgument("etcd key_prefix must start and end with '/' (2..256 bytes)");
  }
  if (o.max_ttl_ms < 1000) return Status::InvalidArgument("etcd max_ttl_ms must be >= 1000");
  if (o.max_id_limit < 1 || o.max_id_limit > (1u << 20)) {
    return Status::InvalidArgument("etcd max_id_limit must be in [1, 2^20]");
  }
  if (o.allocate_attempts < 1 || o.allocate_attempts > 1000) {
    return Status::InvalidArgument("etcd allocate_attempts must be in [1, 1000]");
  }
  if (o.max_name_bytes < 1 || o.max_address_bytes < 1) {
    return Status::InvalidArgument("etcd max_name_bytes/max_address_bytes must be positive");
  }
  if (o.lease.stream_retry_ms < 1 || o.watch.retry_ms < 1) {
    return Status::InvalidArgument("etcd retry delays must be positive");
  }
  if (o.watch.max_keys < 1) return Status::InvalidArgument("etcd watch.max_keys must be positive");
  return Status::Ok();
}

StatusOr<std::unique_ptr<EtcdDiscovery>> EtcdDiscovery::Create(asio::any_io_executor executor,
                                                               EtcdDiscoveryOptions options) {
  if (Status s = ValidateEtcdDiscoveryOptions(options); !s.ok()) return s;
  StatusOr<std::shared_ptr<EtcdClient>> client = EtcdClient::Create(options.client);
  if (!client.ok()) return client.status();
  return std::unique_ptr<EtcdDiscovery>(
      new EtcdDiscovery(std::move(executor), std::move(options), std::move(client).value()));
}

EtcdDiscovery::EtcdDiscovery(asio::any_io_executor executor, EtcdDiscoveryOptions options,
                             std::shared_ptr<EtcdClient> client)
    : executor_(std::move(executor)), options_(std::move(options)), client_(std::move(client)) {}

EtcdDiscovery::~EtcdDiscovery() = default;

void EtcdDiscovery::Register(NodeInfo node, int64_t ttl_ms,
                             Callback<StatusOr<std::unique_ptr<Registration>>> done) {
  RegisterWithLease(std::move(node), ttl_ms,
                    [done = std::move(done)](StatusOr<std::unique_ptr<EtcdRegistration>> r) {
                      if (!r.ok()) return done(r.status());
                      done(std::unique_ptr<Registration>(std::move(r).value()));
                    });
}

void EtcdDiscovery::RegisterWithLease(NodeInfo node, int64_t ttl_ms,
                                      Callback<StatusOr<std::unique_ptr<EtcdRegistration>>> done) {
  using Result = StatusOr<std::unique_ptr<EtcdRegistration>>;
  if (ttl_ms <= 0 || ttl_ms > options_.max_ttl_ms) {
    return PostDone<Result>(executor_, std::move(done),
                            Status::InvalidArgument("lease ttl_ms must be in (0, " +
                                                    std::to_string(options_.max_ttl_ms) + "]"));
  }
  if (!ValidName(node.node_id, options_.max_name_bytes) ||
      !ValidName(node.role, options_.max_name_bytes)) {
    return PostDone<Result>(
        executor_, std::move(done),
        Status::InvalidArgument("a node needs a node_id and a role, without '/', of at most " +
                                std::to_string(options_.max_name_bytes) + " bytes"));
  }
  if (node.address.size() > options_.max_address_bytes ||
      node.ws_url.size() > options_.max_address_bytes ||
      node.ws_address.size() > options_.max_address_bytes) {
    return PostDone<Result>(executor_, std::move(done),
                            Status::InvalidArgument("node address or ws_url too long"));
  }
  std::string key = options_.key_prefix + "nodes/" + node.role + "/" + node.node_id;
  pb::LeaseGrantRequest grant;
  grant.set_ttl((ttl_ms + 999) / 1000);
  client_->LeaseGrant(
      std::move(grant),
      [client = client_, executor = executor_, lease_options = options_.lease,
       on_lost = options_.on_registration_lost, node = std::move(node), key = std::move(key),
       done = std::move(done)](StatusOr<pb::LeaseGrantResponse> granted) mutable {
        if (!granted.ok()) return PostDone<Result>(executor, std::move(done), granted.status());
        if (!granted->error().empty()) {
          return PostDone<Result>(executor, std::move(done),
                                  Status::Unavailable("etcd lease grant: " + granted->error()));
        }
        const int64_t lease = granted->id();
        const int64_t ttl_s = granted->ttl();
        pb::TxnRequest txn = CreateIfAbsent(key, EncodeNode(node), lease);
        client->Txn(
            std::move(txn), [client, executor, lease_options, on_lost = std::move(on_lost),
                             node = std::move(node), key = std::move(key), done = std::move(done),
                             lease, ttl_s](StatusOr<pb::TxnResponse> created) mutable {
              if (!created.ok() || !created->succeeded()) {
                RevokeQuietly(client, lease);
                Status why = created.ok()
                                 ? Status::AlreadyExists("a live " + node.role +
                                                         " node already holds id " + node.node_id)
                                 : created.status();
                return PostDone<Result>(executor, std::move(done), std::move(why));
              }
              node.epoch = static_cast<uint64_t>(created->header().revision());
              auto reg = std::make_unique<EtcdRegistrationImpl>(client, key, std::move(node), lease,
                                                                /*reports_load=*/true);
              reg->Keep(executor, ttl_s, lease_options, std::move(on_lost));
              PostDone<Result>(executor, std::move(done),
                               std::unique_ptr<EtcdRegistration>(std::move(reg)));
            });
      });
}

void EtcdDiscovery::Nodes(std::string role, Callback<StatusOr<std::vector<NodeInfo>>> done) {
  using Result = StatusOr<std::vector<NodeInfo>>;
  if (!ValidName(role, options_.max_name_bytes)) {
    return PostDone<Result>(executor_, std::move(done), std::vector<NodeInfo>{});
  }
  std::string prefix = options_.key_prefix + "nodes/" + role + "/";
  pb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(PrefixRangeEnd(prefix));
  req.set_limit(options_.watch.max_keys);
  client_->Range(std::move(req), [executor = executor_, prefix, role, done = std::move(done)](
                                     StatusOr<pb::RangeResponse> listed) mutable {
    if (!listed.ok()) return PostDone<Result>(executor, std::move(done), listed.status());
    PostDone<Result>(executor, std::move(done), NodesFrom(listed->kvs(), prefix, role));
  });
}

std::unique_ptr<Watch> EtcdDiscovery::WatchRole(
    std::string role, std::function<void(std::vector<NodeInfo>)> handler) {
  std::string prefix = options_.key_prefix + "nodes/" + role + "/";
  auto watcher = PrefixWatcher::Start(client_, executor_, prefix, options_.watch,
                                      [prefix, role, handler = std::move(handler)](
                                          const PrefixWatcher::Snapshot& snapshot, int64_t) {
                                        std::vector<mvccpb::KeyValue> kvs;
                                        kvs.reserve(snapshot.size());
                                        for (const auto& [key, kv] : snapshot) kvs.push_back(kv);
                                        handler(NodesFrom(kvs, prefix, role));
                                      });
  return std::make_unique<EtcdWatch>(std::move(watcher));
}

namespace {

// AllocateId's steps after the lease is granted: list the scope's ids, try
// to create the lowest free one, list again if another process took it.
struct Allocation : std::enable_shared_from_this<Allocation> {
  using Result = StatusOr<std::unique_ptr<Registration>>;

  std::shared_ptr<EtcdClient> client;
  asio::any_io_executor executor;
  LeaseKeeperOptions lease_options;
  std::function<void(const NodeInfo&)> on_lost;
  std::string scope;
  std::string prefix;  // <key_prefix>ids/<scope>/
  uint32_t max_id = 0;
  int attempts_left = 0;
  int64_t lease = 0;
  int64_t ttl_s = 0;
  Callback<Result> done;

  void Fail(Status why) {
    RevokeQuietly(client, lease);
    PostDone<Result>(executor, std::move(done), std::move(why));
  }

  void List() {
    pb::RangeRequest req;
    req.set_key(prefix);
    req.set_range_end(PrefixRangeEnd(prefix));
    req.set_keys_only(true);
    // Every id of the scope, and a few foreign keys, at most.
    req.set_limit(static_cast<int64_t>(max_id) + 64);
    client->Range(std::move(req), [self = shared_from_this()](StatusOr<pb::RangeResponse> r) {
      self->Listed(std::move(r));
    });
  }

  void Listed(StatusOr<pb::RangeResponse> listed) {
    if (!listed.ok()) return Fail(listed.status());
    std::set<uint32_t> taken;
    for (const mvccpb::KeyValue& kv : listed->kvs()) {
      std::string tail = kv.key().substr(prefix.size());
      if (tail.empty() || tail.size() > 10 ||
          tail.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      uint64_t n = std::stoull(tail);
      if (n <= max_id) taken.insert(static_cast<uint32_t>(n));
    }
    uint64_t id = 0;
    for (uint32_t held : taken) {
      if (held != id) break;
      ++id;
    }
    if (id > max_id) {
      return Fail(Status::Unavailable("every id of " + scope + " up to " + std::to_string(max_id) +
                                      " is taken"));
    }
    std::string key = prefix + std::to_string(id);
    client->Txn(CreateIfAbsent(key, "", lease),
                [self = shared_from_this(), key, id](StatusOr<pb::TxnResponse> created) {
                  self->Created(std::move(created), key, static_cast<uint32_t>(id));
                });
  }

  void Created(StatusOr<pb::TxnResponse> created, const std::string& key, uint32_t id) {
    if (!created.ok()) return Fail(created.status());
    if (!created->succeeded()) {
      if (--attempts_left > 0) return List();
      return Fail(Status::Unavailable("ids of " + scope + " keep being taken; try again"));
    }
    NodeInfo node;
    node.node_id = std::to_string(id);
    node.role = scope;
    node.epoch = static_cast<uint64_t>(created->header().revision());
    auto reg = std::make_unique<EtcdRegistrationImpl>(client, key, std::move(node), lease,
                                                      /*reports_load=*/false);
    reg->Keep(executor, ttl_s, lease_options, on_lost);
    PostDone<Result>(executor, std::move(done), std::unique_ptr<Registration>(std::move(reg)));
  }
};

}  // namespace

void EtcdDiscovery::AllocateId(std::string scope, uint32_t max_id, int64_t ttl_ms,
                               Callback<StatusOr<std::unique_ptr<Registration>>> done) {
  using Result = StatusOr<std::unique_ptr<Registration>>;
  if (ttl_ms <= 0 || ttl_ms > options_.max_ttl_ms) {
    return PostDone<Result>(executor_, std::move(done),
                            Status::InvalidArgument("lease ttl_ms must be in (0, " +
                                                    std::to_string(options_.max_ttl_ms) + "]"));
  }
  if (!ValidName(scope, options_.max_name_bytes)) {
    return PostDone<Result>(executor_, std::move(done),
                            Status::InvalidArgument("an id scope must be a name without '/'"));
  }
  if (max_id > options_.max_id_limit) {
    return PostDone<Result>(executor_, std::move(done),
                            Status::InvalidArgument("max_id above max_id_limit " +
                                                    std::to_string(options_.max_id_limit)));
  }
  auto allocation = std::make_shared<Allocation>();
  allocation->client = client_;
  allocation->executor = executor_;
  allocation->lease_options = options_.lease;
  allocation->on_lost = options_.on_registration_lost;
  allocation->prefix = options_.key_prefix + "ids/" + scope + "/";
  allocation->scope = std::move(scope);
  allocation->max_id = max_id;
  allocation->attempts_left = options_.allocate_attempts;
  allocation->done = std::move(done);
  pb::LeaseGrantRequest grant;
  grant.set_ttl((ttl_ms + 999) / 1000);
  client_->LeaseGrant(std::move(grant), [allocation](StatusOr<pb::LeaseGrantResponse> granted) {
    if (!granted.ok() || !granted->error().empty()) {
      return PostDone<Result>(allocation->executor, std::move(allocation->done),
                              granted.ok()
                                  ? Status::Unavailable("etcd lease grant: " + granted->error())
                                  : granted.status());
    }
    allocation->lease = granted->id();
    allocation->ttl_s = granted->ttl();
    allocation->List();
  });
}

}  // namespace parley::discovery

// EtcdDiscovery: Discovery over etcd 3.4 (cluster mode).
//
// Keys (under options.key_prefix, "/parley/" by default):
//   nodes/<role>/<node_id>  -> {"address","ws_url","load"} (JSON), under the
//                              node's lease; the epoch is the key's create
//                              revision.
//   ids/<scope>/<n>         -> "", under the holder's lease (AllocateId).
// Register = LeaseGrant + a transaction that puts the key only if it does not
// exist (create revision 0), else ALREADY_EXISTS. The lease is renewed by a
// LeaseKeeper; ReportLoad rewrites the value under the same lease (the create
// revision, hence the epoch, stays); Close revokes the lease, which deletes
// the key.
//
// A lost lease (etcd unreachable for about the TTL, or etcd dropped it) is
// reported, not repaired: the registration stops renewing and writing,
// EtcdRegistration::lost() turns true, and options.on_registration_lost is
// called with the node as registered. Every other node has seen (or will
// see) the node leave, and what they keyed on its epoch (presence records,
// partitions) is void; only the owner knows how to rejoin (a connect node
// must drop its clients so that they resync), so it registers again, getting
// a new epoch.
//
// Thread-safe. `done` callbacks and watch handlers run on `executor` (one
// call at a time per watch). ReportLoad and Close block for one etcd round
// trip (with the request deadline). WatchRole blocks for one Range, so that
// its first call shows the nodes as they were when it was called.
// Registrations and watches may outlive the EtcdDiscovery (they share its
// client); `executor`'s context must outlive them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "discovery/discovery.h"
#include "discovery/etcd/etcd_client.h"
#include "discovery/etcd/lease_keeper.h"
#include "discovery/etcd/prefix_watcher.h"

namespace parley::discovery {

struct EtcdDiscoveryOptions {
  EtcdClientOptions client;
  // Every key Parley writes starts with this; two clusters (or two tests)
  // on one etcd use two prefixes. Must start and end with '/'.
  std::string key_prefix = "/parley/";
  // Largest lease TTL accepted. TTLs are rounded up to whole seconds, and
  // etcd raises a TTL below its minimum (1.5 x its election timeout, so 2 s
  // with etcd's defaults) to that minimum: the registration's lease may be
  // longer than asked.
  int64_t max_ttl_ms = 600'000;
  // Largest max_id AllocateId accepts (ids of a scope are listed at once).
  uint32_t max_id_limit = 65'535;
  // AllocateId retries this many times when another process takes the id it
  // chose first.
  int allocate_attempts = 16;
  // Largest node_id, role or scope (bytes); they may not contain '/'.
  size_t max_name_bytes = 128;
  // Largest address or ws_url (bytes).
  size_t max_address_bytes = 1024;
  LeaseKeeperOptions lease;
  // Watches: retry delay and the most nodes of one role.
  PrefixWatcherOptions watch;
  // Called (on the executor) when a registration's lease is lost; see above.
  std::function<void(const NodeInfo&)> on_registration_lost;
};

// INVALID_ARGUMENT naming the bad field, or OK.
Status ValidateEtcdDiscoveryOptions(const EtcdDiscoveryOptions& options);

// What EtcdDiscovery's Register and AllocateId return, with the lease behind
// it (for things held under the same lease, such as partitions).
class EtcdRegistration : public Registration {
 public:
  virtual int64_t lease_id() const = 0;
  // True once the lease is lost (see the file comment); final.
  virtual bool lost() const = 0;
  // Stops renewing without revoking, as a crashed process would: the node
  // disappears when its lease expires. For fault tests.
  virtual void Abandon() = 0;
};

class EtcdDiscovery final : public Discovery {
 public:
  // INVALID_ARGUMENT for bad options; connects lazily (no etcd needed yet).
  static StatusOr<std::unique_ptr<EtcdDiscovery>> Create(boost::asio::any_io_executor executor,
                                                         EtcdDiscoveryOptions options);
  ~EtcdDiscovery() override;
  EtcdDiscovery(const EtcdDiscovery&) = delete;
  EtcdDiscovery& operator=(const EtcdDiscovery&) = delete;

  void Register(NodeInfo node, int64_t ttl_ms,
                Callback<StatusOr<std::unique_ptr<Registration>>> done) override;
  void Nodes(std::string role, Callback<StatusOr<std::vector<NodeInfo>>> done) override;
  std::unique_ptr<Watch> WatchRole(std::string role,
                                   std::function<void(std::vector<NodeInfo>)> handler) override;
  void AllocateId(std::string scope, uint32_t max_id, int64_t ttl_ms,
                  Callback<StatusOr<std::unique_ptr<Registration>>> done) override;

  // Register, typed: the registration exposes its lease.
  void RegisterWithLease(NodeInfo node, int64_t ttl_ms,
                         Callback<StatusOr<std::unique_ptr<EtcdRegistration>>> done);

  const std::shared_ptr<EtcdClient>& client() const { return client_; }
  const boost::asio::any_io_executor& executor() const { return executor_; }
  const EtcdDiscoveryOptions& options() const { return options_; }

 private:
  EtcdDiscovery(boost::asio::any_io_executor executor, EtcdDiscoveryOptions options,
                std::shared_ptr<EtcdClient> client);

  const boost::asio::any_io_executor executor_;
  const EtcdDiscoveryOptions options_;
  const std::shared_ptr<EtcdClient> client_;
};

}  // namespace parley::discovery

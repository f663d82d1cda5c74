// EtcdPartitionOwner: exclusive ownership of the message log's partitions by
// the live task nodes, through etcd.
//
// Each task node runs one. It follows the live task nodes (Discovery's watch
// of role "task") and computes the partitions it should own with
// AssignPartitions. It holds a partition by creating the key
// <key_prefix>partitions/<p> if absent (value "<node_id>@<epoch>") under its
// registration's lease, and gives it up by deleting the key if the key is
// still under its lease. A partition still held by another node is taken
// when that key goes: its owner released it, or its lease expired (a dead
// node). Keys under the prefix are watched, and every decision is retried
// every retry_ms, so a failed call is not the end of it.
//
// The handler gets the set of partitions this node holds whenever it
// changes. A partition enters the set only after its key was created, and
// leaves it before its key is deleted (the handler has returned by then), so
// if every node consumes exactly what its handler last said, a partition is
// consumed by at most one live node at a time. A node whose keys vanish (its
// lease expired) drops them as soon as it sees that; call LeaseLost() when
// the lease is reported lost (EtcdDiscoveryOptions::on_registration_lost),
// which drops everything at once and for good, before etcd's expiry.
//
// Thread-safe. The handler runs on `executor`, one call at a time, in order;
// after Stop() (or the destructor) returns it is not called again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "discovery/etcd/etcd_discovery.h"
#include "discovery/partition_assigner.h"

namespace parley::discovery {

struct EtcdPartitionOwnerOptions {
  // Partitions of the message log: 0..partitions-1. Every task node must
  // use the same value (and the same vnodes).
  uint32_t partitions = 16;
  uint32_t vnodes_per_node = kDefaultVnodesPerNode;
  // Largest `partitions` accepted.
  uint32_t max_partitions = 4096;
  // Keys live under <key_prefix>partitions/ (EtcdDiscoveryOptions::key_prefix).
  std::string key_prefix = "/parley/";
  // The role whose live nodes share the partitions.
  std::string role = "task";
  // Every decision is made again this often (failed calls, missed events).
  int64_t retry_ms = 500;
};

Status ValidateEtcdPartitionOwnerOptions(const EtcdPartitionOwnerOptions& options);

class EtcdPartitionOwner {
 public:
  using Handler = std::function<void(const std::set<uint32_t>&)>;

  // Starts owning partitions for `self` (a registration of `discovery`, of
  // options.role). INVALID_ARGUMENT for bad options. `discovery` must
  // outlive the owner.
  static StatusOr<std::unique_ptr<EtcdPartitionOwner>> Start(EtcdDiscovery& discovery,
                                                             const EtcdRegistration& self,
                                                             EtcdPartitionOwnerOptions options,
                                                             Handler handler);
  ~EtcdPartitionOwner();
  EtcdPartitionOwner(const EtcdPartitionOwner&) = delete;
  EtcdPartitionOwner& operator=(const EtcdPartitionOwner&) = delete;

  // Stops: the handler is not called again. With `release`, deletes the
  // keys of the partitions held (blocking, one etcd call each) so that
  // others take them at once; the caller has stopped consuming them. Without
  // it, they stay until the lease goes (a crash, in tests). Idempotent; the
  // destructor calls Stop(true).
  void Stop(bool release = true);

  // The lease is lost: drops every partition now, acquires none again.
  void LeaseLost();

  // The partitions held, as last given to the handler (or about to be).
  std::set<uint32_t> held() const;

  struct State;  // internal, shared with calls in flight

 private:
  explicit EtcdPartitionOwner(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace parley::discovery

// Presence in Redis (cluster mode): written by connect nodes through logic,
// read in batches by the push path, shared by every node.
//
// Keys. Users are spread over `partitions` presence partitions (user id
// modulo partitions), whose keys share the hash tag "{pr<k>}":
//   <prefix>:{pr<k>}:presence:user:<user>  hash, one field per connection,
//                                          "<node>|<epoch>|<conn>"
//   <prefix>:{pr<k>}:presence:node:<node>  set, the node's connections of the
//                                          partition's users, "<user>|<epoch>|<conn>"
// Add and Remove are one script each (hash and index together). RemoveNode
// runs one script per partition (in one round trip) that drops every
// connection of the node with epoch <= the given one from both. Lookup of
// many users is one round trip (a pipeline of HKEYS).
//
// Liveness. Entries carry no expiry: a connection is recorded as long as its
// node's discovery lease lives. Callers must (1) treat only connections whose
// (node, epoch) is currently live in discovery as reachable, filtering
// Lookup's answer, and (2) call RemoveNode(node, epoch) when they see a
// node's epoch depart (lease expired, or the node back with a later epoch),
// so that the dead connections' records are reclaimed. A connect node that
// restarts comes back with a later epoch and records its connections anew.
//
// Bounds: at most max_connections_per_user connections per user (Add of one
// more answers RATE_LIMITED); at most max_lookup_users users per Lookup.
//
// Thread-safe; no state of its own besides immutable options. Callbacks run
// on the Redis client's strand.
#pragma once

#include <memory>

#include "presence/presence.h"
#include "redis/redis_client.h"

namespace parley::presence {

struct RedisPresenceOptions {
  // First part of every key; the same on every node of a cluster.
  std::string key_prefix = "parley";
  // Presence partitions (fixed at cluster creation).
  uint32_t partitions = 16;
  uint32_t max_connections_per_user = 64;
  uint32_t max_lookup_users = 100'000;
  // Longest node id accepted.
  uint32_t max_node_id_bytes = 256;
};

// INVALID_ARGUMENT naming the first bad field.
Status Validate(const RedisPresenceOptions& o);

class RedisPresence final : public Presence {
 public:
  // `options` must be valid (Validate).
  RedisPresence(std::shared_ptr<redis::RedisClient> client, RedisPresenceOptions options);

  // RATE_LIMITED when the user already holds max_connections_per_user.
  void Add(Connection conn, Callback<Status> done) override;
  void Remove(Connection conn, Callback<Status> done) override;
  void Lookup(std::vector<uint64_t> users,
              Callback<StatusOr<std::vector<std::vector<Connection>>>> done) override;
  void RemoveNode(std::string node_id, uint64_t epoch, Callback<Status> done) override;

 private:
  uint32_t PartitionOf(uint64_t user) const;
  std::string Tag(uint32_t p) const;
  std::string UserKey(uint64_t user) const;
  std::string NodeKey(uint32_t p, const std::string& node) const;
  Status CheckNode(const std::string& node) const;

  std::shared_ptr<redis::RedisClient> client_;
  const RedisPresenceOptions options_;
  const redis::Script add_script_, remove_script_;
};

}  // namespace parley::presence

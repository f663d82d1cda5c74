// SequenceAllocator over Redis (cluster mode), shared by every logic node.
// Per conversation, in its partition's slot: the counter
// "<prefix>:{p<k>}:seq:<conv>" (the last used seq) and the lease key
// "...:lease:<conv>" (the open lease's id, expiring after lease_ttl_ms).
//
// Acquire takes the lease keys of every claimed conversation, one script per
// partition in ascending partition order (a partition's leases are taken all
// or none; taken partitions are kept while a later one is waited for, so two
// processes never deadlock), then reads the counters: first[i] = counter + 1.
// Commit raises each counter to the lease's last seq and frees the leases
// that are still ours; Abort only frees them. Within one process competing
// leases are granted in the order asked (a freed lease of the next local
// waiter's first partition is handed straight to it). Across processes a
// waiter polls with backoff and reserves the next turn of a held lease
// ("<prefix>:{p<k>}:leasewant:<conv>"); while it is reserved, a freed lease
// is handed to a local waiter at most lease_handovers_while_wanted times,
// then goes to the reserving process, so a busy process cannot starve
// another. A holder that dies frees its
// conversations after lease_ttl_ms. A commit, abort or free that fails with
// the connection (and the free of a lease whose reply was lost with it) is
// retried until Redis answers or the lease would have expired anyway, so a
// Redis restart does not hold conversations for lease_ttl_ms.
//
// A lease that expires while its holder is still appending does not by
// itself prevent a second holder from reading the same counter: the message
// log's append script is the fence (it accepts seq == counter + 1 only, and
// moves the counter in the same step), so no seq is ever stored twice.
//
// A counter missing from Redis is seeded (SET NX) from the Store: the
// highest persisted seq of the conversation. The marker
// "<prefix>:meta:initialized" records how this Redis was initialised: "clean"
// when the Store held no message at the time (a new cluster), "gap" when it
// did (this Redis lost its data). Under "gap", every seed adds
// seq_gap_after_loss, so that no seq acknowledged before the loss but not yet
// persisted is handed out again; clients see the jump as a gap. The marker
// is set by the first seed that finds it missing (checked in the seed's own
// script, so a Redis that loses its data while nodes run is detected too).
//
// Thread-safe. Callbacks run on a thread of the Redis client or of the store,
// never under a lock. The object may be destroyed while calls are in flight
// (they hold its state); `store` must outlive every call.
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "redis/redis_client.h"
#include "state/redis/redis_state_options.h"
#include "state/sequence_allocator.h"
#include "store/store.h"

namespace parley::state {

class RedisSequenceAllocator final : public SequenceAllocator {
 public:
  // `options` must be valid (Validate); `ex` runs retry timers.
  RedisSequenceAllocator(std::shared_ptr<redis::RedisClient> client,
                         boost::asio::any_io_executor ex, store::Store& store,
                         RedisStateOptions options);
  ~RedisSequenceAllocator() override;

  void Acquire(std::vector<SeqClaim> claims, Callback<StatusOr<SeqLease>> done) override;
  void Commit(uint64_t lease_id, Callback<Status> done) override;
  void Abort(uint64_t lease_id, Callback<Status> done) override;
  // Seeds the counters it finds missing.
  void Last(std::vector<std::string> convs,
            Callback<StatusOr<std::vector<uint64_t>>> done) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace parley::state

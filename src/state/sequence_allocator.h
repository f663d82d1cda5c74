// SequenceAllocator: hands out each conversation's seqs, gap-free and unique
// across every logic node. Embedded mode: MemorySequenceAllocator; cluster
// mode: Redis (counters and per-conversation leases in one script).
//
// A sender leases the next seqs of the conversations of a batch, appends the
// batch to the message log, then commits the lease (the seqs are used) or
// aborts it (the append failed: the same seqs go to the next lease). While a
// lease is open, no other lease touching one of its conversations is granted:
// that is what keeps seqs gap-free when an append fails, and ordered in the
// log as they are numbered.
//
// Every method returns at once and calls `done` exactly once, on a thread of
// the implementation (possibly the caller's, before returning).
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/callback.h"
#include "common/status.h"

namespace parley::state {

struct SeqClaim {
  std::string conv;
  uint32_t count = 0;  // > 0
};

struct SeqLease {
  uint64_t id = 0;
  // first[i]: the first seq of claims[i]; the claim owns first[i] ..
  // first[i] + count - 1. Equals the conversation's last committed seq + 1.
  std::vector<uint64_t> first;
};

class SequenceAllocator {
 public:
  virtual ~SequenceAllocator() = default;

  // Leases seqs for every claim (conversations distinct). Waits while another
  // open lease holds one of the conversations; leases are granted in the
  // order they were asked for when they compete for a conversation.
  virtual void Acquire(std::vector<SeqClaim> claims, Callback<StatusOr<SeqLease>> done) = 0;
  // The leased seqs are used: they become the conversations' last seqs.
  virtual void Commit(uint64_t lease_id, Callback<Status> done) = 0;
  // The leased seqs are given back unused.
  virtual void Abort(uint64_t lease_id, Callback<Status> done) = 0;
  // The last committed seq of each conversation (0 when none): reply[i] for
  // convs[i]. Seqs of open leases are not included.
  virtual void Last(std::vector<std::string> convs,
                    Callback<StatusOr<std::vector<uint64_t>>> done) = 0;
};

}  // namespace parley::state

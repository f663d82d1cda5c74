// Seqs held in this process's memory: embedded mode, where every logic
// facade runs in one process. Starts from the last seqs of the store (which
// must hold everything the message log holds, so nothing is numbered twice
// after a restart). Thread-safe; callbacks run on the calling thread, outside
// the lock, either inline or on the thread whose Commit/Abort freed the
// conversations.
#pragma once

#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "state/sequence_allocator.h"

namespace parley::state {

class MemorySequenceAllocator final : public SequenceAllocator {
 public:
  explicit MemorySequenceAllocator(std::vector<std::pair<std::string, uint64_t>> last_seqs = {});

  void Acquire(std::vector<SeqClaim> claims, Callback<StatusOr<SeqLease>> done) override;
  void Commit(uint64_t lease_id, Callback<Status> done) override;
  void Abort(uint64_t lease_id, Callback<Status> done) override;
  void Last(std::vector<std::string> convs,
            Callback<StatusOr<std::vector<uint64_t>>> done) override;

 private:
  struct Request {
    uint64_t id = 0;
    std::vector<SeqClaim> claims;
    Callback<StatusOr<SeqLease>> done;
  };
  using Grant = std::pair<Callback<StatusOr<SeqLease>>, SeqLease>;

  // Grants, in order, every waiting request none of whose conversations is
  // held or wanted by an earlier waiting request. Called with mu_ held.
  std::vector<Grant> GrantWaiting();
  void Finish(uint64_t lease_id, bool commit, Callback<Status> done);

  std::mutex mu_;
  // State below is guarded by mu_.
  std::unordered_map<std::string, uint64_t> last_;  // committed
  std::unordered_map<uint64_t, std::vector<SeqClaim>> open_;
  std::unordered_set<std::string> held_;
  std::deque<Request> waiting_;
  uint64_t next_id_ = 1;
};

}  // namespace parley::state

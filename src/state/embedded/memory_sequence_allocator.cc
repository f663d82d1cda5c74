#include "state/embedded/memory_sequence_allocator.h"

namespace parley::state {

MemorySequenceAllocator::MemorySequenceAllocator(
    std::vector<std::pair<std::string, uint64_t>> last_seqs) {
  for (auto& [conv, seq] : last_seqs) last_[std::move(conv)] = seq;
}

void MemorySequenceAllocator::Acquire(std::vector<SeqClaim> claims,
                                      Callback<StatusOr<SeqLease>> done) {
  if (claims.empty()) return done(Status::InvalidArgument("a lease needs at least one claim"));
  std::unordered_set<std::string_view> seen;
  for (const SeqClaim& c : claims) {
    if (c.count == 0) return done(Status::InvalidArgument("a claim needs a count > 0"));
    if (c.conv.empty()) return done(Status::InvalidArgument("a claim needs a conversation"));
    if (!seen.insert(c.conv).second) {
      return done(Status::InvalidArgument("conversation " + c.conv + " claimed twice"));
    }
  }
  std::vector<Grant> grants;
  {
    std::lock_guard lock(mu_);
    waiting_.push_back({next_id_++, std::move(claims), std::move(done)});
    grants = GrantWaiting();
  }
  for (auto& [cb, lease] : grants) cb(std::move(lease));
}

std::vector<MemorySequenceAllocator::Grant> MemorySequenceAllocator::GrantWaiting() {
  std::vector<Grant> grants;
  // Conversations an earlier waiter still wants: a later waiter must not
  // overtake it on them.
  std::unordered_set<std::string> wanted;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    bool free = true;
    for (const SeqClaim& c : it->claims) {
      if (held_.contains(c.conv) || wanted.contains(c.conv)) {
        free = false;
        break;
      }
    }
    if (!free) {
      for (const SeqClaim& c : it->claims) wanted.insert(c.conv);
      ++it;
      continue;
    }
    SeqLease lease;
    lease.id = it->id;
    lease.first.reserve(it->claims.size());
    for (const SeqClaim& c : it->claims) {
      held_.insert(c.conv);
      auto last = last_.find(c.conv);
      lease.first.push_back((last == last_.end() ? 0 : last->second) + 1);
    }
    open_.emplace(it->id, std::move(it->claims));
    grants.emplace_back(std::move(it->done), std::move(lease));
    it = waiting_.erase(it);
  }
  return grants;
}

void MemorySequenceAllocator::Commit(uint64_t lease_id, Callback<Status> done) {
  Finish(lease_id, /*commit=*/true, std::move(done));
}

void MemorySequenceAllocator::Abort(uint64_t lease_id, Callback<Status> done) {
  Finish(lease_id, /*commit=*/false, std::move(done));
}

void MemorySequenceAllocator::Finish(uint64_t lease_id, bool commit, Callback<Status> done) {
  std::vector<Grant> grants;
  {
    std::lock_guard lock(mu_);
    auto it = open_.find(lease_id);
    if (it == open_.end()) {
      return done(Status::NotFound("no open lease " + std::to_string(lease_id)));
    }
    for (const SeqClaim& c : it->second) {
      if (commit) last_[c.conv] += c.count;
      held_.erase(c.conv);
    }
    open_.erase(it);
    grants = GrantWaiting();
  }
  done(Status::Ok());
  for (auto& [cb, lease] : grants) cb(std::move(lease));
}

void MemorySequenceAllocator::Last(std::vector<std::string> convs,
                                   Callback<StatusOr<std::vector<uint64_t>>> done) {
  std::vector<uint64_t> out;
  out.reserve(convs.size());
  {
    std::lock_guard lock(mu_);
    for (const std::string& conv : convs) {
      auto it = last_.find(conv);
      out.push_back(it == last_.end() ? 0 : it->second);
    }
  }
  done(std::move(out));
}

}  // namespace parley::state

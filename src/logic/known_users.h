// User ids known to exist, so that checking a recipient or a member does not
// ask the store each time. Users are never deleted, so a remembered id never
// goes stale, and forgetting one only costs a store lookup the next time it
// is checked: a full set is therefore simply cleared, which bounds memory by
// `max` without any order to keep.
//
// Not thread-safe: owned by Accounts, on the Logic facade's strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>

namespace parley::logic {

class KnownUsers {
 public:
  // Remembers at most `max` ids; 0 remembers none.
  explicit KnownUsers(size_t max) : max_(max) {}

  bool contains(uint64_t user_id) const { return ids_.contains(user_id); }
  void insert(uint64_t user_id) {
    if (max_ == 0 || ids_.contains(user_id)) return;
    if (ids_.size() >= max_) ids_.clear();
    ids_.insert(user_id);
  }
  size_t size() const { return ids_.size(); }

 private:
  size_t max_;
  std::unordered_set<uint64_t> ids_;
};

}  // namespace parley::logic

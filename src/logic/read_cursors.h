// Read cursors this logic node has seen, so that a read receipt that moves
// nothing is answered without a store write or a push. A remembered cursor
// is a lower bound of the persisted one: cursors only move up (the store
// never lowers one, and a member who rejoins a group starts at its last
// seq), so "seq <= remembered" proves a read moves nothing, on any node and
// whatever other nodes did since. Forgetting is therefore always safe (the
// next read of that conversation is written and pushed once), which is why
// a full table is simply cleared.
//
// Not thread-safe: owned by History, on the Logic facade's strand.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace parley::logic {

class ReadCursors {
 public:
  // Remembers at most `max` (user, conversation) cursors; 0 remembers none.
  explicit ReadCursors(size_t max) : max_(max) {}

  // The remembered lower bound of the user's cursor in `conv` (0: unknown).
  uint64_t Get(uint64_t user, const std::string& conv) const;
  // The cursor is now at least `seq`.
  void Raise(uint64_t user, const std::string& conv, uint64_t seq);
  size_t size() const { return cursors_.size(); }

 private:
  static std::string Key(uint64_t user, const std::string& conv);

  size_t max_;
  std::unordered_map<std::string, uint64_t> cursors_;
};

}  // namespace parley::logic

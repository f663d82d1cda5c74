// The newest messages of the most recently active conversations, kept so that
// a sync can be served before the persist consumer has written a message to
// the store (and without touching the store for the common "what did I just
// miss" case). Not thread-safe: owned by MemoryRecentWindow, under its lock.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "parley/message.pb.h"

namespace parley::state {

class RecentMessages {
 public:
  // Keeps up to `per_conv` messages of each of up to `max_convs` conversations.
  RecentMessages(size_t per_conv, size_t max_convs) : per_conv_(per_conv), max_convs_(max_convs) {}

  // Messages must be added in seq order per conversation, without gaps.
  void Add(const rpc::ChatMessage& msg);
  // Lowest seq held for `conv` (0 when none).
  uint64_t FirstSeq(const std::string& conv) const;
  // Appends the held messages with lo <= seq <= hi to `out`, in order; stops
  // at the first seq not held. Returns the last seq appended (lo - 1 if none).
  uint64_t Copy(const std::string& conv, uint64_t lo, uint64_t hi,
                google::protobuf::RepeatedPtrField<rpc::ChatMessage>* out) const;

 private:
  struct Conv {
    std::deque<rpc::ChatMessage> messages;
    std::list<std::string>::iterator lru;
  };
  size_t per_conv_;
  size_t max_convs_;
  std::unordered_map<std::string, Conv> convs_;
  std::list<std::string> lru_;  // most recently added first
};

}  // namespace parley::state

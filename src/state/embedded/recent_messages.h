// The newest messages of the most recently active conversations, kept so that
// a sync can be served before the persist consumer has written a message to
// the store (and without touching the store for the common "what did I just
// miss" case). Bounded by count and by bytes, per conversation and in total;
// the oldest messages go first, so what is held of a conversation is always
// its newest run. Not thread-safe: owned by MemoryRecentWindow, under its
// lock.
#pragma once

#include <cstddef>
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
  // Keeps up to `per_conv` messages and `conv_max_bytes` bytes of each of up
  // to `max_convs` conversations, and `max_bytes` bytes in all (the least
  // recently active conversations are dropped first). The newest message of
  // the conversation being added to is kept whatever its size.
  RecentMessages(size_t per_conv, size_t max_convs, size_t conv_max_bytes = SIZE_MAX,
                 size_t max_bytes = SIZE_MAX)
      : per_conv_(per_conv),
        max_convs_(max_convs),
        conv_max_bytes_(conv_max_bytes),
        max_bytes_(max_bytes) {}

  // Messages must be added in seq order per conversation, without gaps.
  void Add(const rpc::ChatMessage& msg);
  // Lowest seq held for `conv` (0 when none).
  uint64_t FirstSeq(const std::string& conv) const;
  // Appends the held messages with lo <= seq <= hi to `out`, in order; stops
  // at the first seq not held. Returns the last seq appended (lo - 1 if none).
  uint64_t Copy(const std::string& conv, uint64_t lo, uint64_t hi,
                google::protobuf::RepeatedPtrField<rpc::ChatMessage>* out) const;
  // What the held messages are counted as (see Cost), in all.
  size_t bytes() const { return bytes_; }
  size_t conversations() const { return convs_.size(); }

  // The bytes a held message is counted as: its serialized size (which
  // follows its strings) plus the object itself.
  static size_t Cost(const rpc::ChatMessage& msg);

 private:
  struct Conv {
    std::deque<rpc::ChatMessage> messages;
    size_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  void PopOldest(Conv& c);
  void Drop(const std::string& conv);

  size_t per_conv_;
  size_t max_convs_;
  size_t conv_max_bytes_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::unordered_map<std::string, Conv> convs_;
  std::list<std::string> lru_;  // most recently added first
};

}  // namespace parley::state

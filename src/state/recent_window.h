// RecentWindow: the newest messages of recently active conversations, and
// the private conversations too new for the store's lists, shared by every
// logic node. The store lags the message log by the persist consumer; this
// window lets any node serve a sync of a message acknowledged by any other
// node before the store has it, and list a conversation whose first message
// is not persisted yet. Embedded mode: MemoryRecentWindow; cluster mode:
// Redis (a capped list per conversation).
//
// Every method returns at once and calls `done` exactly once, on a thread of
// the implementation (possibly the caller's, before returning).
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/callback.h"
#include "common/status.h"
#include "parley/message.pb.h"

namespace parley::state {

class RecentWindow {
 public:
  virtual ~RecentWindow() = default;

  // Messages just made durable, in seq order per conversation. A message
  // that does not continue its conversation's window (a gap) restarts it.
  // The first message of a private conversation makes it new for both
  // parties as of `now_ms`.
  virtual void Add(std::vector<rpc::ChatMessage> messages, int64_t now_ms,
                   Callback<Status> done) = 0;
  // The held messages of `conv` with lo <= seq <= hi, ascending and
  // contiguous from lo; empty when lo itself is not held. Messages are
  // handed out without request id and origin (those are for the push only).
  virtual void Range(std::string conv, uint64_t lo, uint64_t hi,
                     Callback<StatusOr<std::vector<rpc::ChatMessage>>> done) = 0;
  // The user's private conversations whose first message was added
  // recently (at least the last minute): (conv, peer).
  virtual void NewConversations(
      uint64_t user_id, int64_t now_ms,
      Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) = 0;
};

}  // namespace parley::state

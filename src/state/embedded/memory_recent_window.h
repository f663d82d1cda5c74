// The recent window in this process's memory: embedded mode, where every
// logic facade runs in one process. Keeps up to `per_conv` messages and
// `conv_max_bytes` bytes of each of up to `max_convs` conversations, at most
// `max_bytes` in all (least recently active dropped first; see
// RecentMessages), and new private conversations for a minute. Thread-safe; one mutex guards
// both; callbacks run inline, outside it.
#pragma once

#include <mutex>

#include "state/embedded/new_conversations.h"
#include "state/embedded/recent_messages.h"
#include "state/recent_window.h"

namespace parley::state {

class MemoryRecentWindow final : public RecentWindow {
 public:
  MemoryRecentWindow(size_t per_conv, size_t max_convs, size_t conv_max_bytes = SIZE_MAX,
                     size_t max_bytes = SIZE_MAX)
      : recent_(per_conv, max_convs, conv_max_bytes, max_bytes) {}

  void Add(std::vector<rpc::ChatMessage> messages, int64_t now_ms, Callback<Status> done) override;
  void Range(std::string conv, uint64_t lo, uint64_t hi,
             Callback<StatusOr<std::vector<rpc::ChatMessage>>> done) override;
  void NewConversations(
      uint64_t user_id, int64_t now_ms,
      Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) override;

 private:
  std::mutex mu_;
  RecentMessages recent_;                // guarded by mu_
  NewPrivateConversations new_private_;  // guarded by mu_
};

}  // namespace parley::state

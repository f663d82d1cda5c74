// Private conversations whose first message was accepted moments ago: until
// the persist consumer has written it, the store does not list them, yet
// `hello` and the conversation list must (a client that reconnects in that
// window would otherwise not know to sync). Entries are kept for a while
// longer than persisting takes, then dropped. Not thread-safe: owned by
// MemoryRecentWindow, under its lock.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace parley::state {

class NewPrivateConversations {
 public:
  explicit NewPrivateConversations(int64_t keep_ms = 60'000) : keep_ms_(keep_ms) {}

  void Add(const std::string& conv, uint64_t a, uint64_t b, int64_t now_ms);
  // (conv, peer) of the user's new conversations.
  const std::vector<std::pair<std::string, uint64_t>>& Of(uint64_t user) const;
  void Expire(int64_t now_ms);

 private:
  int64_t keep_ms_;
  std::unordered_map<uint64_t, std::vector<std::pair<std::string, uint64_t>>> by_user_;
  std::deque<std::tuple<int64_t, uint64_t, std::string>> added_;  // (ms, user, conv), oldest first
};

}  // namespace parley::state

#include "state/embedded/new_conversations.h"

#include <algorithm>

namespace parley::state {

void NewPrivateConversations::Add(const std::string& conv, uint64_t a, uint64_t b, int64_t now_ms) {
  by_user_[a].emplace_back(conv, b);
  added_.emplace_back(now_ms, a, conv);
  if (a != b) {
    by_user_[b].emplace_back(conv, a);
    added_.emplace_back(now_ms, b, conv);
  }
}

const std::vector<std::pair<std::string, uint64_t>>& NewPrivateConversations::Of(
    uint64_t user) const {
  static const std::vector<std::pair<std::string, uint64_t>> kNone;
  auto it = by_user_.find(user);
  return it == by_user_.end() ? kNone : it->second;
}

void NewPrivateConversations::Expire(int64_t now_ms) {
  while (!added_.empty() && std::get<0>(added_.front()) < now_ms - keep_ms_) {
    auto& [ms, user, conv] = added_.front();
    auto it = by_user_.find(user);
    if (it != by_user_.end()) {
      std::erase_if(it->second, [&](const auto& p) { return p.first == conv; });
      if (it->second.empty()) by_user_.erase(it);
    }
    added_.pop_front();
  }
}

}  // namespace parley::state

#include "logic/read_cursors.h"

#include <algorithm>

namespace parley::logic {

std::string ReadCursors::Key(uint64_t user, const std::string& conv) {
  return std::to_string(user) + '/' + conv;
}

uint64_t ReadCursors::Get(uint64_t user, const std::string& conv) const {
  auto it = cursors_.find(Key(user, conv));
  return it == cursors_.end() ? 0 : it->second;
}

void ReadCursors::Raise(uint64_t user, const std::string& conv, uint64_t seq) {
  if (max_ == 0) return;
  std::string key = Key(user, conv);
  auto it = cursors_.find(key);
  if (it != cursors_.end()) {
    it->second = std::max(it->second, seq);
    return;
  }
  // Forgetting only costs one more write and push per conversation (see the
  // header), so a full table is cleared rather than kept in LRU order.
  if (cursors_.size() >= max_) cursors_.clear();
  cursors_.emplace(std::move(key), seq);
}

}  // namespace parley::logic

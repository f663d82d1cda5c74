#include "state/embedded/recent_messages.h"

namespace parley::state {

void RecentMessages::Add(const rpc::ChatMessage& msg) {
  auto [it, inserted] = convs_.try_emplace(msg.conv());
  Conv& c = it->second;
  if (inserted) {
    lru_.push_front(msg.conv());
    c.lru = lru_.begin();
    if (convs_.size() > max_convs_) {
      convs_.erase(lru_.back());
      lru_.pop_back();
    }
  } else {
    lru_.splice(lru_.begin(), lru_, c.lru);
  }
  // A gap (the cache missed messages) restarts the window.
  if (!c.messages.empty() && c.messages.back().seq() + 1 != msg.seq()) c.messages.clear();
  c.messages.push_back(msg);
  c.messages.back().clear_request_id();
  c.messages.back().clear_origin_node();
  c.messages.back().clear_origin_conn();
  if (c.messages.size() > per_conv_) c.messages.pop_front();
}

uint64_t RecentMessages::FirstSeq(const std::string& conv) const {
  auto it = convs_.find(conv);
  if (it == convs_.end() || it->second.messages.empty()) return 0;
  return it->second.messages.front().seq();
}

uint64_t RecentMessages::Copy(const std::string& conv, uint64_t lo, uint64_t hi,
                              google::protobuf::RepeatedPtrField<rpc::ChatMessage>* out) const {
  uint64_t last = lo - 1;
  auto it = convs_.find(conv);
  if (it == convs_.end() || it->second.messages.empty()) return last;
  const auto& msgs = it->second.messages;
  uint64_t first = msgs.front().seq();
  if (lo < first) return last;
  for (uint64_t s = lo; s <= hi && s - first < msgs.size(); ++s) {
    *out->Add() = msgs[s - first];
    last = s;
  }
  return last;
}

}  // namespace parley::state

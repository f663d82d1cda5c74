#include "state/embedded/recent_messages.h"

namespace parley::state {

size_t RecentMessages::Cost(const rpc::ChatMessage& msg) {
  return msg.ByteSizeLong() + sizeof(rpc::ChatMessage);
}

void RecentMessages::PopOldest(Conv& c) {
  size_t cost = Cost(c.messages.front());
  c.bytes -= cost;
  bytes_ -= cost;
  c.messages.pop_front();
}

void RecentMessages::Drop(const std::string& conv) {
  auto it = convs_.find(conv);
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  convs_.erase(it);
}

void RecentMessages::Add(const rpc::ChatMessage& msg) {
  auto [it, inserted] = convs_.try_emplace(msg.conv());
  Conv& c = it->second;
  if (inserted) {
    lru_.push_front(msg.conv());
    c.lru = lru_.begin();
    if (convs_.size() > max_convs_ && lru_.size() > 1) Drop(lru_.back());
  } else {
    lru_.splice(lru_.begin(), lru_, c.lru);
  }
  // A gap (the cache missed messages) restarts the window.
  if (!c.messages.empty() && c.messages.back().seq() + 1 != msg.seq()) {
    while (!c.messages.empty()) PopOldest(c);
  }
  c.messages.push_back(msg);
  c.messages.back().clear_request_id();
  c.messages.back().clear_origin_node();
  c.messages.back().clear_origin_conn();
  size_t cost = Cost(c.messages.back());
  c.bytes += cost;
  bytes_ += cost;
  while (c.messages.size() > 1 && (c.messages.size() > per_conv_ || c.bytes > conv_max_bytes_)) {
    PopOldest(c);
  }
  // Over the total: whole conversations, least recently active first (a
  // sync of one finds it in the store, or answers `unavailable` until the
  // store has it); then the oldest of this one.
  while (bytes_ > max_bytes_ && lru_.size() > 1) Drop(lru_.back());
  while (bytes_ > max_bytes_ && c.messages.size() > 1) PopOldest(c);
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

#include "state/embedded/memory_recent_window.h"

namespace parley::state {

void MemoryRecentWindow::Add(std::vector<rpc::ChatMessage> messages, int64_t now_ms,
                             Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    new_private_.Expire(now_ms);
    for (const rpc::ChatMessage& m : messages) {
      recent_.Add(m);
      if (m.seq() == 1 && m.to_user() != 0) {
        new_private_.Add(m.conv(), m.from(), m.to_user(), now_ms);
      }
    }
  }
  done(Status::Ok());
}

void MemoryRecentWindow::Range(std::string conv, uint64_t lo, uint64_t hi,
                               Callback<StatusOr<std::vector<rpc::ChatMessage>>> done) {
  google::protobuf::RepeatedPtrField<rpc::ChatMessage> held;
  {
    std::lock_guard lock(mu_);
    if (lo <= hi) recent_.Copy(conv, lo, hi, &held);
  }
  std::vector<rpc::ChatMessage> out(std::make_move_iterator(held.begin()),
                                    std::make_move_iterator(held.end()));
  done(std::move(out));
}

void MemoryRecentWindow::NewConversations(
    uint64_t user_id, int64_t now_ms,
    Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) {
  std::vector<std::pair<std::string, uint64_t>> out;
  {
    std::lock_guard lock(mu_);
    new_private_.Expire(now_ms);
    out = new_private_.Of(user_id);
  }
  done(std::move(out));
}

}  // namespace parley::state

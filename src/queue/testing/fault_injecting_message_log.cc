#include "queue/testing/fault_injecting_message_log.h"

#include <cassert>
#include <utility>

namespace parley::queue {

FaultInjectingMessageLog::~FaultInjectingMessageLog() { ReleaseAppends(); }

void FaultInjectingMessageLog::FailNextAppends(int n, Status s) {
  assert(!s.ok());
  std::lock_guard lock(mu_);
  fail_remaining_ = n;
  fail_status_ = std::move(s);
}

void FaultInjectingMessageLog::HoldAppends() {
  std::lock_guard lock(mu_);
  holding_ = true;
}

void FaultInjectingMessageLog::ReleaseAppends() {
  std::lock_guard release_lock(release_mu_);
  for (;;) {
    std::deque<Held> ready;
    {
      std::lock_guard lock(mu_);
      if (held_.empty()) {
        holding_ = false;
        return;
      }
      // Still holding while these are forwarded: an Append made meanwhile
      // queues behind them instead of overtaking them.
      ready.swap(held_);
      reached_ += ready.size();
    }
    for (auto& h : ready) MessageLogWrapper::Append(std::move(h.batch), std::move(h.done));
  }
}

uint64_t FaultInjectingMessageLog::AppendsReachedTarget() const {
  std::lock_guard lock(mu_);
  return reached_;
}

size_t FaultInjectingMessageLog::HeldAppends() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void FaultInjectingMessageLog::Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    if (fail_remaining_ > 0) {
      --fail_remaining_;
      callbacks_.Post([done = std::move(done), s = fail_status_] { done(s); });
      return;
    }
    if (holding_) {
      held_.push_back(Held{std::move(batch), std::move(done)});
      return;
    }
    ++reached_;
  }
  MessageLogWrapper::Append(std::move(batch), std::move(done));
}

void FaultInjectingMessageLog::Close() {
  ReleaseAppends();
  MessageLogWrapper::Close();
  callbacks_.Drain();
}

}  // namespace parley::queue

// FaultInjectingMessageLog: a MessageLogWrapper whose appends can be made to
// fail or held back, for tests of what the send pipeline does when the log
// fails or is slow.
//
//   FaultInjectingMessageLog log(&sqlite_log);
//   log.FailNextAppends(1);       // the next batch fails, UNAVAILABLE
//   log.HoldAppends();            // later batches wait inside the wrapper...
//   log.ReleaseAppends();         // ...until now, then go on in order
//
// A failed append never reaches the target: no entry of its batch is stored
// or delivered, and its `done` runs once with the injected status on the
// wrapper's own callback thread (never on the caller's). Whether an append
// fails is decided when Append is called, before it would be held. Held
// appends reach the target in the order they were made. Subscribe, Ack and
// Lag are forwarded as they are.
//
// Thread-safe, except that HoldAppends and ReleaseAppends are meant to be
// called from one (the test's) thread. Does not own the target, which must
// outlive the wrapper. Close() releases the held appends, then closes the
// target, then waits for the injected failures' callbacks; the destructor
// releases held appends and waits for those callbacks, without closing the
// target.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "queue/testing/message_log_wrapper.h"
#include "support/callback_thread.h"

namespace parley::queue {

class FaultInjectingMessageLog final : public MessageLogWrapper {
 public:
  explicit FaultInjectingMessageLog(MessageLog* target) : MessageLogWrapper(target) {}
  ~FaultInjectingMessageLog() override;

  // The next `n` appends fail with `s` (not OK). Replaces what was armed
  // before; n = 0 disarms.
  void FailNextAppends(int n, Status s = Status::Unavailable("injected append failure"));
  // From now on, appends wait inside the wrapper (their `done` does not run).
  void HoldAppends();
  // Forwards the held appends to the target in order, and stops holding.
  void ReleaseAppends();
  // Append calls forwarded to the target so far (batches, not entries).
  uint64_t AppendsReachedTarget() const;
  // Append calls waiting inside the wrapper now.
  size_t HeldAppends() const;

  void Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) override;
  void Close() override;

 private:
  struct Held {
    std::vector<rpc::ChatMessage> batch;
    Callback<Status> done;
  };

  std::mutex release_mu_;  // serializes ReleaseAppends callers

  mutable std::mutex mu_;
  // State below is protected by mu_.
  int fail_remaining_ = 0;
  Status fail_status_;
  bool holding_ = false;
  std::deque<Held> held_;
  uint64_t reached_ = 0;

  parley::testing::CallbackThread callbacks_;  // last: drained before the state above goes
};

}  // namespace parley::queue

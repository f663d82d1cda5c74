// MessageLogWrapper: a MessageLog that forwards every call to another
// MessageLog, in the spirit of leveldb's EnvWrapper. Derive from it and
// override only the calls a test double changes (see
// FaultInjectingMessageLog).
//
// Does not own the target, which must outlive the wrapper; Close() closes the
// target. Thread-safe as far as the target is; callbacks and handlers are the
// target's, on the target's threads.
#pragma once

#include "queue/message_log.h"

namespace parley::queue {

class MessageLogWrapper : public MessageLog {
 public:
  explicit MessageLogWrapper(MessageLog* target) : target_(target) {}

  MessageLog* target() const { return target_; }

  void Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) override;
  void Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                 std::function<void(std::vector<LogEntry>)> handler) override;
  void Ack(const std::string& group, const std::vector<uint64_t>& offsets) override;
  uint64_t Lag(const std::string& group) const override;
  void Close() override;

 private:
  MessageLog* const target_;
};

}  // namespace parley::queue

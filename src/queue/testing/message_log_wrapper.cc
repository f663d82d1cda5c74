#include "queue/testing/message_log_wrapper.h"

#include <utility>

namespace parley::queue {

void MessageLogWrapper::Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) {
  target_->Append(std::move(batch), std::move(done));
}

void MessageLogWrapper::Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                                  std::function<void(std::vector<LogEntry>)> handler) {
  target_->Subscribe(std::move(group), max_batch, from_tail, std::move(handler));
}

void MessageLogWrapper::Ack(const std::string& group, const std::vector<uint64_t>& offsets) {
  target_->Ack(group, offsets);
}

uint64_t MessageLogWrapper::Lag(const std::string& group) const { return target_->Lag(group); }

void MessageLogWrapper::Close() { target_->Close(); }

}  // namespace parley::queue

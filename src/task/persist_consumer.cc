#include "task/persist_consumer.h"

#include <spdlog/spdlog.h>

namespace parley::task {

void PersistConsumer::Start(uint32_t max_batch) {
  log_.Subscribe(kGroup, max_batch, /*from_tail=*/false,
                 [this](std::vector<queue::LogEntry> entries) { OnBatch(std::move(entries)); });
}

void PersistConsumer::OnBatch(std::vector<queue::LogEntry> entries) {
  std::vector<rpc::ChatMessage> batch;
  std::vector<uint64_t> offsets;
  batch.reserve(entries.size());
  offsets.reserve(entries.size());
  for (queue::LogEntry& e : entries) {
    SPDLOG_DEBUG("event=persist rid={} conv={} seq={}", e.message.request_id(), e.message.conv(),
                 e.message.seq());
    offsets.push_back(e.offset);
    batch.push_back(std::move(e.message));
  }
  size_t n = batch.size();
  store_.AppendMessages(std::move(batch), [this, offsets = std::move(offsets), n](Status s) {
    if (!s.ok()) {
      // Left unacked: the log delivers these entries again later.
      spdlog::error("event=persist_failed count={} error=\"{}\"", n, s.message());
      return;
    }
    log_.Ack(kGroup, offsets);
    metrics_.messages_persisted.Inc(n);
    metrics_.log_lag_persist.Set(static_cast<int64_t>(log_.Lag(kGroup)));
  });
}

}  // namespace parley::task

// PersistConsumer: the task tier's "persist" consumer group. Writes each
// batch of log entries to the store in one idempotent multi-row insert, then
// acks them; a failed write is not acked and comes back after the log's
// redelivery timeout.
#pragma once

#include <atomic>

#include "common/metrics.h"
#include "queue/message_log.h"
#include "store/store.h"

namespace parley::task {

class PersistConsumer {
 public:
  static constexpr const char* kGroup = "persist";

  PersistConsumer(queue::MessageLog& log, store::Store& store, Metrics& metrics)
      : log_(log), store_(store), metrics_(metrics) {}

  void Start(uint32_t max_batch = 2048);
  // Entries not yet persisted.
  uint64_t Lag() const { return log_.Lag(kGroup); }

 private:
  void OnBatch(std::vector<queue::LogEntry> entries);

  queue::MessageLog& log_;
  store::Store& store_;
  Metrics& metrics_;
};

}  // namespace parley::task

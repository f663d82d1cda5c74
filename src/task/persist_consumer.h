// PersistConsumer: the task tier's "persist" consumer group. Writes each
// batch of log entries to the store in one idempotent multi-row insert, then
// acks them. A failed write acks nothing: the log delivers those entries
// again after its redelivery timeout, and entries the store already holds
// are skipped, so none is stored twice.
//
// Thread-safety: call Start once; the consumer then runs on the log's and
// the store's threads. Lifetime: the log, store and metrics outlive it;
// destroy it only after the log and the store are closed.
#pragma once

#include <cstdint>

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

// PushConsumer: the task tier's "push" consumer group. Reads accepted
// messages from the log in batches, resolves each message's recipients (both
// parties, or the group's members, plus the sender's other connections),
// finds the nodes holding their live connections, and sends each node one
// batched Push. Entries are acked once every node answered (or is gone):
// pushes are best effort, and clients fill gaps with sync.
// Thread-safe to construct; runs on the log's delivery thread.
#pragma once

#include <deque>
#include <memory>
#include <mutex>

#include "common/metrics.h"
#include "connect/connect_service.h"
#include "presence/presence.h"
#include "queue/message_log.h"
#include "store/store.h"

namespace parley::task {

class PushConsumer {
 public:
  static constexpr const char* kGroup = "push";

  PushConsumer(queue::MessageLog& log, store::Store& store, presence::Presence& presence,
               connect::ConnectDirectory& connects, Metrics& metrics)
      : log_(log), store_(store), presence_(presence), connects_(connects), metrics_(metrics) {}

  // Subscribes to the log; delivery starts at once.
  void Start(uint32_t max_batch = 1024);

 private:
  struct Batch;
  void OnBatch(std::vector<queue::LogEntry> entries);
  // Starts the next queued batch unless one is in progress. Batches are
  // processed one at a time, so pushes leave in log order even though group
  // lookups finish in any order.
  void StartNext();
  void Process(std::shared_ptr<Batch> batch);
  void Dispatch(Batch& batch);

  queue::MessageLog& log_;
  store::Store& store_;
  presence::Presence& presence_;
  connect::ConnectDirectory& connects_;
  Metrics& metrics_;

  std::mutex mu_;  // guards the two below
  std::deque<std::shared_ptr<Batch>> queue_;
  bool busy_ = false;
};

}  // namespace parley::task

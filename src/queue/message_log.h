// MessageLog: the durable queue between logic and task. Logic appends
// accepted messages; each consumer group (push, persist) reads every entry and
// acks it when done. Unacked entries are redelivered (after the redelivery
// timeout, or after a restart). Embedded mode: SqliteMessageLog
// (queue/sqlite/); cluster mode: Redis Streams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/callback.h"
#include "common/status.h"
#include "parley/message.pb.h"

namespace parley::queue {

struct LogEntry {
  uint64_t offset = 0;  // position in the log, increasing
  rpc::ChatMessage message;
};

class MessageLog {
 public:
  virtual ~MessageLog() = default;

  // Appends the batch in order. `done` runs once the whole batch is durable
  // (an error means none of it is). Thread-safe; batches appended by one
  // thread keep their order.
  virtual void Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) = 0;

  // Delivers entries to `group` in log order, in batches of at most
  // `max_batch`, each batch only after the previous handler call returned.
  // Each entry is delivered until acked: entries unacked for the redelivery
  // timeout, and all unacked entries after a restart, are delivered again.
  // A group that was never seen before starts at the beginning of the log
  // unless `from_tail` (then it starts after the last entry appended).
  // The handler runs on a thread of the log and must not block for long.
  virtual void Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                         std::function<void(std::vector<LogEntry>)> handler) = 0;

  // Marks entries of `group` as done. Thread-safe.
  virtual void Ack(const std::string& group, const std::vector<uint64_t>& offsets) = 0;

  // Entries appended but not yet acked by `group`.
  virtual uint64_t Lag(const std::string& group) const = 0;

  // Stops delivery; pending appends are completed first.
  virtual void Close() = 0;
};

}  // namespace parley::queue

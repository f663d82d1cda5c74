// SqliteMessageLog: the embedded MessageLog, over its own SQLite file.
//
// Appends are group-committed by a writer thread (SqliteWriter) into
// log(offset, payload); `done` runs after COMMIT. Committed entries stay in
// an in-memory tail cache until every subscribed group has acked them (or
// the cache is full), so delivery rarely reads SQLite; older entries are
// read back by the delivery thread's own connection.
//
// One delivery thread serves every group, one batch per group in turn; a
// group gets its next batch only after its handler returned, and new entries
// only while fewer than 16 batches of it are unacked. A group's cursor (all
// offsets <= it acked) is persisted in cursors(grp, offset) every 200 ms and
// at Close; entries acked by every known group (subscribed now, or with a
// persisted cursor) are trimmed about once a second. A group that is never
// subscribed again keeps its entries: remove its cursors row to retire it.
//
// Thread-safe. Handlers must not call Close(). Close() (or the destructor)
// stops delivery, completes the queued appends and persists the cursors.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/options.h"
#include "queue/message_log.h"
#include "queue/sqlite/entry_ring.h"
#include "sqlite/sqlite_db.h"
#include "sqlite/sqlite_writer.h"

namespace parley::queue {

class SqliteMessageLog final : public MessageLog {
 public:
  // Opens (creating when absent) the log at `path`. Uses
  // options.commit_batch_max (entries per commit) and log_redelivery_ms
  // (measured with clock.MonotonicNs()).
  static StatusOr<std::unique_ptr<SqliteMessageLog>> Open(const std::string& path,
                                                          const StorageOptions& options,
                                                          const Clock& clock);
  ~SqliteMessageLog() override;  // Close()

  void Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) override;
  void Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                 std::function<void(std::vector<LogEntry>)> handler) override;
  void Ack(const std::string& group, const std::vector<uint64_t>& offsets) override;
  uint64_t Lag(const std::string& group) const override;
  void Close() override;

 private:
  class AppendOp;
  struct Group;
  // A batch chosen for a group: a range of new entries, or offsets to redeliver.
  struct Job {
    Group* group = nullptr;
    std::shared_ptr<const std::function<void(std::vector<LogEntry>)>> handler;
    uint64_t lo = 0, hi = 0;        // new entries [lo, hi]
    std::vector<uint64_t> offsets;  // redelivery (when non-empty)
  };

  SqliteMessageLog(const StorageOptions& options, const Clock& clock);

  // Writer thread.
  void Publish(uint64_t first, std::vector<rpc::ChatMessage>& batch);
  void Maintain(sqlite::SqliteDb& db, bool closing);
  // Delivery thread.
  void DeliveryLoop();
  // Picks the group's next batch (redelivery first) into `job`.
  bool PlanGroupLocked(Group& g, int64_t now, Job& job);
  void Deliver(Job& job);
  // Appends entries [lo, hi] to `out`, from the cache or SQLite; offsets
  // that are gone or unreadable go to `lost`.
  void ReadRange(uint64_t lo, uint64_t hi, std::vector<LogEntry>& out, std::vector<uint64_t>& lost);
  void ReadStored(uint64_t lo, uint64_t hi, std::vector<LogEntry>& out,
                  std::vector<uint64_t>& lost);
  void EvictCache();
  // Under mu_.
  void AckLocked(Group& g, uint64_t offset);

  const Clock& clock_;
  const int64_t redelivery_ns_;

  // Used only by the writer thread (inside Append ops).
  uint64_t next_offset_ = 1;
  std::string scratch_;  // serialized payload, reused
  std::chrono::steady_clock::time_point last_trim_{};
  uint64_t deleted_upto_ = 0;  // entries <= this are deleted from the file
  std::vector<std::pair<std::string, uint64_t>> flush_;  // cursors being persisted

  // The delivery thread's connection; used only by it.
  std::unique_ptr<sqlite::SqliteDb> read_db_;

  mutable std::mutex mu_;
  std::condition_variable delivery_cv_;
  // State below is protected by mu_.
  std::map<std::string, std::unique_ptr<Group>, std::less<>> groups_;  // subscribed
  std::map<std::string, uint64_t, std::less<>> stored_cursors_;        // persisted, not subscribed
  uint64_t committed_ = 0;                                             // highest committed offset
  // Entries <= this are acked by every known group (deleted or about to be);
  // a new group starts after it.
  uint64_t trimmed_upto_ = 0;
  bool stop_delivery_ = false;

  mutable std::mutex cache_mu_;
  // State below is protected by cache_mu_. Pushed by the writer; evicted by
  // the delivery thread once acked, by the writer beyond kCacheMax.
  // cache_[i] has offset cache_base_ + i.
  EntryRing cache_;
  uint64_t cache_base_ = 1;

  std::mutex close_mu_;  // serializes Close() callers
  std::unique_ptr<sqlite::SqliteWriter> writer_;
  std::thread delivery_;
};

}  // namespace parley::queue

// SqliteWriter: the thread that owns a database's write connection and
// group-commits the writes queued to it. It drains whatever is queued (up to
// `batch_max` weight) into one BEGIN IMMEDIATE ... COMMIT, so that one fsync
// covers the whole batch, then finishes each op in submission order. Each op
// runs inside its own savepoint, so a failed op rolls back alone and does not
// poison the others of its batch.
//
// Linger: ops that no caller is waiting on (Op::Urgent() false, such as the
// persist consumer's batches) may wait up to `linger` for company before
// their commit, so that one commit, one fsync and one rewrite of each B-tree
// page touched serve many of them. An urgent op, a queue of batch_max
// weight, or Close ends the wait at once.
//
// Thread-safe: Submit() and Close() may be called from any thread except the
// writer's own (an op's Finish must not call Close).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/callback.h"
#include "common/status.h"
#include "sqlite/sqlite_db.h"

namespace parley::sqlite {

class SqliteWriter {
 public:
  class Op {
   public:
    virtual ~Op() = default;
    // How much of the batch this op takes (e.g. rows); at least 1.
    virtual size_t Weight() const { return 1; }
    // Whether a caller is waiting on this op; those that are not may linger.
    virtual bool Urgent() const { return true; }
    // Runs on the writer thread inside the batch's transaction. A non-OK
    // result rolls back this op's changes only.
    virtual Status Apply(SqliteDb& db) = 0;
    // Runs on the writer thread after the batch's COMMIT, in submission
    // order: `status` is Apply's result when the commit succeeded, else the
    // commit's error. Also runs (UNAVAILABLE) for ops submitted after Close.
    virtual void Finish(Status status) = 0;
  };

  // Runs on the writer thread outside any transaction, every
  // `maintenance_interval_ms` while open and once more at Close (closing =
  // true); for batched housekeeping (cursor flushes, trimming).
  using Maintenance = std::function<void(SqliteDb& db, bool closing)>;

  // Starts the thread. `db` must be a kWriter connection.
  SqliteWriter(std::unique_ptr<SqliteDb> db, uint32_t batch_max, Maintenance maintenance = nullptr,
               uint32_t maintenance_interval_ms = 200,
               std::chrono::milliseconds linger = std::chrono::milliseconds(0));
  ~SqliteWriter();  // Close()
  SqliteWriter(const SqliteWriter&) = delete;
  SqliteWriter& operator=(const SqliteWriter&) = delete;

  void Submit(std::unique_ptr<Op> op);
  // Commits and finishes everything submitted so far, runs the final
  // maintenance, joins the thread. Idempotent.
  void Close();

 private:
  void Run();
  void CommitBatch(std::vector<std::unique_ptr<Op>>& ops);

  std::unique_ptr<SqliteDb> db_;  // used only by the writer thread
  const uint32_t batch_max_;
  const Maintenance maintenance_;
  const uint32_t maintenance_interval_ms_;
  const std::chrono::milliseconds linger_;

  std::mutex mu_;
  std::condition_variable cv_;
  // State below is protected by mu_.
  std::deque<std::unique_ptr<Op>> queue_;
  size_t queued_weight_ = 0;
  size_t queued_urgent_ = 0;
  std::chrono::steady_clock::time_point first_queued_at_;  // of queue_.front()
  bool closing_ = false;

  std::mutex close_mu_;  // serializes Close() callers
  std::thread thread_;
};

// An op from two callables: `apply(SqliteDb&) -> StatusOr<T>` runs in the
// transaction; `done(StatusOr<T>)` gets its result after COMMIT.
template <typename T, typename Fn>
std::unique_ptr<SqliteWriter::Op> MakeOp(Fn apply, Callback<StatusOr<T>> done) {
  class FnOp final : public SqliteWriter::Op {
   public:
    FnOp(Fn a, Callback<StatusOr<T>> d) : apply_(std::move(a)), done_(std::move(d)) {}
    Status Apply(SqliteDb& db) override {
      result_.emplace(apply_(db));
      return result_->status();
    }
    void Finish(Status status) override {
      if (status.ok() && result_) {
        done_(std::move(*result_));
      } else {
        done_(status.ok() ? Status::Internal("sqlite: op not applied") : std::move(status));
      }
    }

   private:
    Fn apply_;
    Callback<StatusOr<T>> done_;
    std::optional<StatusOr<T>> result_;
  };
  return std::make_unique<FnOp>(std::move(apply), std::move(done));
}

// An op whose result is a plain Status: `apply(SqliteDb&) -> Status`.
template <typename Fn>
std::unique_ptr<SqliteWriter::Op> MakeStatusOp(Fn apply, Callback<Status> done) {
  class FnOp final : public SqliteWriter::Op {
   public:
    FnOp(Fn a, Callback<Status> d) : apply_(std::move(a)), done_(std::move(d)) {}
    Status Apply(SqliteDb& db) override { return apply_(db); }
    void Finish(Status status) override { done_(std::move(status)); }

   private:
    Fn apply_;
    Callback<Status> done_;
  };
  return std::make_unique<FnOp>(std::move(apply), std::move(done));
}

}  // namespace parley::sqlite

#include "sqlite/sqlite_writer.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "common/thread_name.h"

namespace parley::sqlite {

SqliteWriter::SqliteWriter(std::unique_ptr<SqliteDb> db, uint32_t batch_max,
                           Maintenance maintenance, uint32_t maintenance_interval_ms,
                           std::chrono::milliseconds linger)
    : db_(std::move(db)),
      batch_max_(batch_max == 0 ? 1 : batch_max),
      maintenance_(std::move(maintenance)),
      maintenance_interval_ms_(maintenance_interval_ms == 0 ? 1 : maintenance_interval_ms),
      linger_(linger),
      thread_([this] { Run(); }) {}

SqliteWriter::~SqliteWriter() { Close(); }

void SqliteWriter::Submit(std::unique_ptr<Op> op) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      const bool urgent = op->Urgent();
      if (queue_.empty()) first_queued_at_ = std::chrono::steady_clock::now();
      queued_weight_ += op->Weight();
      queued_urgent_ += urgent ? 1 : 0;
      queue_.push_back(std::move(op));
      // An idle writer waits for the first op; a lingering one for an urgent
      // op or a full batch. A busy one drains the queue before waiting.
      if (queue_.size() == 1 || urgent || queued_weight_ >= batch_max_) cv_.notify_one();
      return;
    }
  }
  op->Finish(Status::Unavailable("store is closed"));
}

void SqliteWriter::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SqliteWriter::Run() {
  NameThisThread("write-" + std::string(db_->FileName()));
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(maintenance_interval_ms_);
  auto next_maintenance = Clock::now() + interval;
  std::vector<std::unique_ptr<Op>> ops;
  for (;;) {
    bool closing = false;
    {
      std::unique_lock lock(mu_);
      if (maintenance_) {
        cv_.wait_until(lock, next_maintenance, [&] { return closing_ || !queue_.empty(); });
      } else {
        cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      }
      if (linger_.count() > 0 && !queue_.empty()) {
        auto commit_by = first_queued_at_ + linger_;
        if (maintenance_) commit_by = std::min(commit_by, next_maintenance);
        cv_.wait_until(lock, commit_by, [&] {
          return closing_ || queued_urgent_ > 0 || queued_weight_ >= batch_max_;
        });
      }
      size_t weight = 0;
      while (!queue_.empty() && (ops.empty() || weight < batch_max_)) {
        Op& op = *queue_.front();
        weight += op.Weight();
        queued_weight_ -= op.Weight();
        queued_urgent_ -= op.Urgent() ? 1 : 0;
        ops.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      // What is left was queued while the batch lingered: it commits next,
      // without lingering again.
      if (!queue_.empty()) first_queued_at_ = std::chrono::steady_clock::time_point::min();
      closing = closing_ && queue_.empty();
    }
    if (!ops.empty()) {
      CommitBatch(ops);
      ops.clear();
    }
    if (maintenance_ && (closing || Clock::now() >= next_maintenance)) {
      maintenance_(*db_, closing);
      next_maintenance = Clock::now() + interval;
    }
    if (closing) return;
  }
}

void SqliteWriter::CommitBatch(std::vector<std::unique_ptr<Op>>& ops) {
  std::vector<Status> results;
  results.reserve(ops.size());
  Status txn = db_->Run("BEGIN IMMEDIATE");
  if (txn.ok()) {
    // A lone op needs no savepoint: its failure rolls back the transaction.
    const bool savepoints = ops.size() > 1;
    for (auto& op : ops) {
      if (!txn.ok()) {
        results.push_back(txn);
        continue;
      }
      if (savepoints) {
        Status sp = db_->Run("SAVEPOINT op");
        if (!sp.ok()) {
          txn = sp;
          results.push_back(sp);
          continue;
        }
      }
      Status s = op->Apply(*db_);
      if (db_->AutoCommit()) {
        // SQLite rolled the whole transaction back (I/O error, disk full):
        // every op of the batch is lost, including those already applied.
        txn = s.ok() ? Status::Internal("sqlite: transaction rolled back") : s;
        results.push_back(txn);
        continue;
      }
      if (savepoints) {
        if (!s.ok()) db_->Run("ROLLBACK TO op");
        Status rel = db_->Run("RELEASE op");
        if (!rel.ok()) txn = rel;
      } else if (!s.ok()) {
        txn = s;
      }
      results.push_back(std::move(s));
    }
    if (txn.ok()) {
      txn = db_->Run("COMMIT");
      if (!txn.ok()) spdlog::error("event=sqlite_commit_failed error=\"{}\"", txn.message());
    }
    if (!txn.ok() && !db_->AutoCommit()) db_->Run("ROLLBACK");
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    Status s = txn.ok()                                   ? std::move(results[i])
               : (i < results.size() && !results[i].ok()) ? std::move(results[i])
                                                          : txn;
    ops[i]->Finish(std::move(s));
  }
}

}  // namespace parley::sqlite

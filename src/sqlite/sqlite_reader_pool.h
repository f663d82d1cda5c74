// SqliteReaderPool: threads that each own one read-only connection and run
// the read tasks queued to the pool, first come first served. WAL lets them
// read while the writer commits; each task sees everything committed before
// it started.
//
// Thread-safe: Submit() and Close() may be called from any thread except the
// pool's own.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "sqlite/sqlite_db.h"

namespace parley::sqlite {

class SqliteReaderPool {
 public:
  // Runs on a reader thread with that thread's connection; `db` is null when
  // the pool is closed (the task must then report UNAVAILABLE).
  using Task = std::function<void(SqliteDb* db)>;

  // Opens `threads` kReader connections to `path` and starts their threads.
  static StatusOr<std::unique_ptr<SqliteReaderPool>> Open(const std::string& path, int threads);
  ~SqliteReaderPool();  // Close()
  SqliteReaderPool(const SqliteReaderPool&) = delete;
  SqliteReaderPool& operator=(const SqliteReaderPool&) = delete;

  void Submit(Task task);
  // Runs the tasks already queued, then joins the threads. Idempotent.
  void Close();

 private:
  SqliteReaderPool() = default;
  void Run(SqliteDb* db);

  std::vector<std::unique_ptr<SqliteDb>> dbs_;  // dbs_[i] used only by threads_[i]

  std::mutex mu_;
  std::condition_variable cv_;
  // State below is protected by mu_.
  std::deque<Task> queue_;
  bool closing_ = false;

  std::mutex close_mu_;  // serializes Close() callers
  std::vector<std::thread> threads_;
};

}  // namespace parley::sqlite

#include "sqlite/sqlite_reader_pool.h"

#include "common/thread_name.h"

namespace parley::sqlite {

StatusOr<std::unique_ptr<SqliteReaderPool>> SqliteReaderPool::Open(const std::string& path,
                                                                   int threads) {
  std::unique_ptr<SqliteReaderPool> pool(new SqliteReaderPool());
  for (int i = 0; i < std::max(threads, 1); ++i) {
    auto db = SqliteDb::Open(path, SqliteDb::Mode::kReader);
    if (!db.ok()) return db.status();
    pool->dbs_.push_back(std::move(db).value());
  }
  for (auto& db : pool->dbs_) {
    pool->threads_.emplace_back([p = pool.get(), d = db.get()] {
      NameThisThread("read-" + std::string(d->FileName()));
      p->Run(d);
    });
  }
  return pool;
}

SqliteReaderPool::~SqliteReaderPool() { Close(); }

void SqliteReaderPool::Submit(Task task) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      queue_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  task(nullptr);
}

void SqliteReaderPool::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void SqliteReaderPool::Run(SqliteDb* db) {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task(db);
  }
}

}  // namespace parley::sqlite

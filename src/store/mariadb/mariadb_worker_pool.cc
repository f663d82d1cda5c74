#include "store/mariadb/mariadb_worker_pool.h"

#include "common/thread_name.h"

namespace parley::store {

MariaDbWorkerPool::MariaDbWorkerPool(const MariaDbConnectionSettings& settings, uint32_t threads,
                                     uint32_t queue_max)
    : queue_max_(queue_max) {
  MariaDbConnectionSettings shared = settings;
  shared.pool_connected_at = std::make_shared<std::atomic<int64_t>>(0);
  for (uint32_t i = 0; i < threads; ++i) {
    connections_.push_back(std::make_unique<MariaDbConnection>(shared));
  }
  for (auto& conn : connections_) {
    workers_.emplace_back([this, c = conn.get()] {
      NameThisThread("mariadb");
      Work(*c);
    });
  }
}

MariaDbWorkerPool::~MariaDbWorkerPool() { Close(); }

bool MariaDbWorkerPool::Submit(Task task) {
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    if (!closed_ && queue_.size() < queue_max_) {
      queue_.push_back(std::move(task));
      queued = true;
    }
  }
  if (!queued) {
    task(nullptr);
    return false;
  }
  wake_.notify_one();
  return true;
}

void MariaDbWorkerPool::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  connections_.clear();
}

void MariaDbWorkerPool::Work(MariaDbConnection& conn) {
  mysql_thread_init();
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) break;  // closed and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task(&conn);
  }
  conn.Close();
  mysql_thread_end();
}

}  // namespace parley::store

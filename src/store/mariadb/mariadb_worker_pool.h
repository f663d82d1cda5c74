// MariaDbWorkerPool: a fixed number of threads, each owning one
// MariaDbConnection, taking tasks from one bounded FIFO queue. A task runs on
// a worker thread with that worker's connection, which it may find closed
// (the task calls EnsureReady()). A task the pool refuses runs at once on the
// submitting thread, with nullptr for the connection.
//
// Thread-safe: any thread may Submit. Close() (or the destructor) lets the
// workers finish every queued task, then joins them; it must not be called
// from a task.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/mariadb/mariadb_connection.h"

namespace parley::store {

class MariaDbWorkerPool {
 public:
  using Task = std::function<void(MariaDbConnection*)>;

  // Starts `threads` workers; their connections open lazily, on first use.
  MariaDbWorkerPool(const MariaDbConnectionSettings& settings, uint32_t threads,
                    uint32_t queue_max);
  ~MariaDbWorkerPool();  // Close()
  MariaDbWorkerPool(const MariaDbWorkerPool&) = delete;
  MariaDbWorkerPool& operator=(const MariaDbWorkerPool&) = delete;

  // Queues `task`; when the queue holds queue_max tasks or the pool is
  // closed, runs task(nullptr) instead and returns false.
  bool Submit(Task task);
  void Close();

 private:
  void Work(MariaDbConnection& conn);

  const uint32_t queue_max_;
  std::vector<std::unique_ptr<MariaDbConnection>> connections_;  // one per worker
  std::mutex close_mu_;  // one Close() at a time joins the workers
  std::vector<std::thread> workers_;

  std::mutex mu_;
  std::condition_variable wake_;
  // State below is protected by mu_.
  std::deque<Task> queue_;
  bool closed_ = false;
};

}  // namespace parley::store

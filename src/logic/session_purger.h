// SessionPurger: deletes expired sessions from the store every
// `interval_ms`, in batches of kBatch rows until none are left, so the
// sessions table follows the number of live sessions. Each logic facade runs
// one; the purge is idempotent, so several nodes purging at once is harmless.
//
// Thread-safe to construct and destroy from any thread. Stops at destruction:
// no further purge starts, and a purge in flight ends after its current batch
// (it holds its own state, not this object). `store` and `clock` must outlive
// every purge started, i.e. the executor's run.
#pragma once

#include <cstdint>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "common/clock.h"
#include "store/store.h"

namespace parley::logic {

class SessionPurger {
 public:
  static constexpr uint32_t kBatch = 1000;

  // interval_ms == 0: never purges.
  SessionPurger(boost::asio::any_io_executor executor, store::Store& store, const Clock& clock,
                int64_t interval_ms);
  ~SessionPurger();  // calls Stop()
  // No purge starts after this; the pending timer is cancelled, so the
  // executor can run out of work (graceful shutdown). Idempotent.
  void Stop();
  SessionPurger(const SessionPurger&) = delete;
  SessionPurger& operator=(const SessionPurger&) = delete;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace parley::logic

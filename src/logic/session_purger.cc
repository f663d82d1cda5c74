#include "logic/session_purger.h"

#include <atomic>
#include <chrono>

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace parley::logic {

namespace asio = boost::asio;

struct SessionPurger::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, store::Store& s, const Clock& c, int64_t interval)
      : strand(asio::make_strand(ex)), timer(strand), store(s), clock(c), interval_ms(interval) {}

  void Schedule() {
    asio::dispatch(strand, [self = shared_from_this()] {
      if (self->stopped) return;
      self->timer.expires_after(std::chrono::milliseconds(self->interval_ms));
      self->timer.async_wait([self](const boost::system::error_code& ec) {
        if (ec || self->stopped) return;
        self->PurgeBatch(0);
      });
    });
  }

  void PurgeBatch(uint64_t purged_so_far) {
    store.PurgeExpiredSessions(
        clock.NowMs(), kBatch, [self = shared_from_this(), purged_so_far](StatusOr<uint64_t> n) {
          if (!n.ok()) {
            spdlog::warn("event=session_purge_failed error=\"{}\"", n.status().message());
            return self->Schedule();
          }
          uint64_t total = purged_so_far + *n;
          if (*n == kBatch && !self->stopped) return self->PurgeBatch(total);
          if (total > 0) spdlog::info("event=sessions_purged count={}", total);
          self->Schedule();
        });
  }

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;  // on strand
  store::Store& store;
  const Clock& clock;
  const int64_t interval_ms;
  std::atomic<bool> stopped{false};
};

SessionPurger::SessionPurger(asio::any_io_executor executor, store::Store& store,
                             const Clock& clock, int64_t interval_ms) {
  if (interval_ms <= 0) return;
  state_ = std::make_shared<State>(std::move(executor), store, clock, interval_ms);
  state_->Schedule();
}

SessionPurger::~SessionPurger() { Stop(); }

void SessionPurger::Stop() {
  if (!state_ || state_->stopped.exchange(true)) return;
  asio::dispatch(state_->strand, [state = state_] { state->timer.cancel(); });
}

}  // namespace parley::logic

#include "store/testing/slow_session_lookups.h"

#include <memory>

#include <boost/asio/steady_timer.hpp>

namespace parley::store {

SlowSessionLookups::SlowSessionLookups(Store* target)
    : StoreWrapper(target), work_(io_.get_executor()), thread_([this] { io_.run(); }) {}

SlowSessionLookups::~SlowSessionLookups() {
  work_.reset();  // the thread ends once every held answer has run
  thread_.join();
}

void SlowSessionLookups::FindSession(std::string token_hash,
                                     Callback<StatusOr<SessionRecord>> done) {
  int64_t delay = delay_ms_.load();
  if (delay == 0) return StoreWrapper::FindSession(std::move(token_hash), std::move(done));
  // Counted as work from the call on, so the destructor waits for it.
  auto guard = boost::asio::make_work_guard(io_);
  StoreWrapper::FindSession(
      std::move(token_hash), [this, delay, guard = std::move(guard),
                              done = std::move(done)](StatusOr<SessionRecord> found) mutable {
        auto timer = std::make_shared<boost::asio::steady_timer>(io_);
        timer->expires_after(std::chrono::milliseconds(delay));
        timer->async_wait([timer, guard = std::move(guard), done = std::move(done),
                           found = std::move(found)](const boost::system::error_code&) mutable {
          done(std::move(found));
        });
      });
}

}  // namespace parley::store

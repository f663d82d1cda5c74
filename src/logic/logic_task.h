// The coroutine vocabulary of the logic tier's parts: every part runs on the
// facade's strand and awaits its seams through Await (common/callback.h).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "common/status.h"
#include "parley/logic.pb.h"

namespace parley::logic {

template <typename T>
using Task = boost::asio::awaitable<T>;

// A reply of type R that carries only `s` as its error.
template <typename R>
R ErrorReply(const Status& s) {
  R r;
  s.ToProto(r.mutable_error());
  return r;
}

// A reply of type R refused by a rate limit: the client may retry after
// `retry_after_ms`.
template <typename R>
R RateLimitedReply(const char* message, int64_t retry_after_ms) {
  R r = ErrorReply<R>(Status::RateLimited(message));
  r.mutable_error()->set_retry_after_ms(retry_after_ms);
  return r;
}

// Who the caller of a LogicService call is, once its credentials checked out.
struct Caller {
  uint64_t user_id = 0;
  std::string session_key;  // the hash of its token
  int64_t expires_at = 0;
};

}  // namespace parley::logic

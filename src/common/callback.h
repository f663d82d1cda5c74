// Asynchronous interfaces in Parley take a completion callback. Callbacks run
// on a thread of the implementation (its own thread or executor); a caller
// that needs its own executor posts, or uses Await() from a coroutine.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace parley {

template <typename T>
using Callback = std::function<void(T)>;

// Awaits a callback-style call from a coroutine, resuming on the coroutine's
// executor:  auto reply = co_await Await<Reply>([&](auto cb) { svc.Foo(req, cb); });
template <typename T, typename Start>
boost::asio::awaitable<T> Await(Start start) {
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(T)>(
      [start = std::move(start)](auto handler) mutable {
        auto ex = boost::asio::get_associated_executor(handler);
        // std::function needs a copyable target; the handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start(Callback<T>([shared, ex](T value) mutable {
          boost::asio::post(
              ex, [shared, value = std::move(value)]() mutable { (*shared)(std::move(value)); });
        }));
      },
      boost::asio::use_awaitable);
}

}  // namespace parley

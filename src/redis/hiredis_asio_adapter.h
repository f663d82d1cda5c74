// HiredisAsioAdapter: hiredis' event-library hooks for one redisAsyncContext,
// implemented with Boost.Asio. hiredis asks to start or stop watching its
// socket (addRead/delRead/addWrite/delWrite); the adapter waits for readiness
// with stream_descriptor::async_wait and calls redisAsyncHandleRead/Write on
// the given strand. Internal to the redis room (RedisClient's only).
//
// Not thread-safe: the context, the adapter and every hook run on `strand`.
// Lifetime: owned by the context (its ev.data); hiredis' cleanup hook, run
// when the context is freed, detaches it and gives the socket back to hiredis
// (which closes it). Waits still pending then complete as no-ops.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

struct redisAsyncContext;

namespace parley::redis::internal {

using Strand = boost::asio::strand<boost::asio::any_io_executor>;

// Installs the hooks on `ac` (connected or connecting, with a socket).
// Must run before redisAsyncSetConnectCallback, which asks for the first
// write-readiness. False if the socket cannot be watched.
bool AttachAsioAdapter(redisAsyncContext* ac, Strand strand);

}  // namespace parley::redis::internal

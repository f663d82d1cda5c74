// Block: waits on the calling thread for a callback-style step. For start-up
// and shutdown on a process's main thread only, never on a thread that runs
// the callbacks it waits for.
#pragma once

#include <future>
#include <utility>

#include "common/callback.h"

namespace parley::app {

template <typename T, typename Start>
T Block(Start start) {
  std::promise<T> promise;
  auto future = promise.get_future();
  start(Callback<T>([&promise](T v) { promise.set_value(std::move(v)); }));
  return future.get();
}

}  // namespace parley::app

// Helpers for tests: status assertions, temp dirs, and blocking on callbacks.
#pragma once

#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "common/callback.h"
#include "common/status.h"

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    const auto& _s = (expr);                               \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.message(); \
  } while (0)
#define EXPECT_OK(expr)                                    \
  do {                                                     \
    const auto& _s = (expr);                               \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.message(); \
  } while (0)

namespace parley::testing {

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "parley-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Calls `start(callback)` and blocks until the callback runs (at most 10 s).
//   auto user = Wait<StatusOr<UserRecord>>([&](auto cb) { store.FindUserById(1, cb); });
template <typename T, typename Start>
T Wait(Start start) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  start(Callback<T>([promise](T v) { promise->set_value(std::move(v)); }));
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "callback did not run within 10 s";
    std::abort();
  }
  return future.get();
}

}  // namespace parley::testing

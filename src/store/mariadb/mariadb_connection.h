// MariaDbConnection: one MariaDB C connector handle (MYSQL*) and what a
// worker needs around it: connecting with timeouts and session settings,
// reconnecting with backoff after the server went away, escaping, and
// statements whose errors come back as Status:
//   UNAVAILABLE      the connection is gone (it is closed; the next
//                    EnsureReady reconnects), or the server refused it
//   ALREADY_EXISTS   a unique key was violated
//   INVALID_ARGUMENT a value does not fit its column
//   INTERNAL         anything else
//
// Not thread-safe: one thread owns a connection and is the only one to touch
// it (the connector's handles must not be shared). MariaDbResult likewise.
#pragma once

#include <mysql.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "store/mariadb/mariadb_dsn.h"

namespace parley::store {

// A buffered result set (mysql_store_result). Columns are read as text.
class MariaDbResult {
 public:
  explicit MariaDbResult(MYSQL_RES* res) : res_(res) {}
  MariaDbResult(MariaDbResult&& o) noexcept
      : res_(std::exchange(o.res_, nullptr)), row_(o.row_), lengths_(o.lengths_) {}
  MariaDbResult& operator=(MariaDbResult&&) = delete;
  MariaDbResult(const MariaDbResult&) = delete;
  ~MariaDbResult();

  // Moves to the next row; false after the last.
  bool Next();
  bool IsNull(int col) const { return row_[col] == nullptr; }
  std::string_view Str(int col) const;
  uint64_t U64(int col) const;  // 0 for NULL
  int64_t I64(int col) const;   // 0 for NULL

 private:
  MYSQL_RES* res_ = nullptr;
  MYSQL_ROW row_ = nullptr;
  unsigned long* lengths_ = nullptr;
};

struct MariaDbConnectionSettings {
  MariaDbDsn dsn;
  uint32_t connect_timeout_s = 3;
  uint32_t read_timeout_s = 30;
  uint32_t write_timeout_s = 30;
  uint32_t lock_wait_timeout_s = 10;
  uint32_t reconnect_backoff_min_ms = 100;
  uint32_t reconnect_backoff_max_ms = 1'000;
  uint32_t idle_ping_ms = 1'000;
  // Allows several statements in one Query (migrations only).
  bool multi_statements = false;
  // Shared by the connections of one pool: when one of them connects, the
  // others stop backing off (the server is back). Steady-clock nanoseconds
  // of the last successful connect. May be null.
  std::shared_ptr<std::atomic<int64_t>> pool_connected_at;
};

class MariaDbConnection {
 public:
  explicit MariaDbConnection(MariaDbConnectionSettings settings);
  MariaDbConnection(const MariaDbConnection&) = delete;
  MariaDbConnection& operator=(const MariaDbConnection&) = delete;
  ~MariaDbConnection();  // Close()

  // Makes the connection usable: connects when closed (UNAVAILABLE at once,
  // without trying, while the reconnect backoff runs), pings it when it was
  // idle for idle_ping_ms and reconnects when the ping fails.
  Status EnsureReady();
  // Connects now, closing any previous connection.
  Status Connect();
  void Close();
  bool connected() const { return mysql_ != nullptr; }

  // Runs `sql` (every statement of it, with multi_statements) and discards
  // any result.
  Status Exec(std::string_view sql);
  // Runs one statement that returns rows.
  StatusOr<MariaDbResult> Query(std::string_view sql);
  // Of the last Exec: rows inserted, updated (changed) or deleted, and the
  // AUTO_INCREMENT value it generated.
  uint64_t affected_rows() const { return affected_rows_; }
  uint64_t insert_id() const { return insert_id_; }
  // The server's or connector's error number of the last failure (0 after a
  // success).
  unsigned last_errno() const { return last_errno_; }

  // Appends `s` to `sql` as a quoted, escaped string literal. Needs a
  // connection (escaping follows its character set).
  void AppendQuoted(std::string& sql, std::string_view s) const;

  // Runs fn() -> Status or StatusOr<T> inside START TRANSACTION ... COMMIT;
  // rolls back when it fails, and runs it again (up to `retries` times) after
  // a deadlock or a lock wait timeout.
  template <typename Fn>
  auto InTransaction(uint32_t retries, Fn&& fn) -> decltype(fn());

 private:
  Status Fail(std::string_view what);
  static const Status& StatusOf(const Status& s) { return s; }
  template <typename T>
  static const Status& StatusOf(const StatusOr<T>& s) {
    return s.status();
  }

  const MariaDbConnectionSettings settings_;
  MYSQL* mysql_ = nullptr;
  uint64_t affected_rows_ = 0;
  uint64_t insert_id_ = 0;
  unsigned last_errno_ = 0;
  std::chrono::steady_clock::time_point last_used_{};
  std::chrono::steady_clock::time_point next_connect_{};
  std::chrono::steady_clock::time_point failed_at_{};
  std::chrono::milliseconds backoff_{0};
};

// True for errors after which running the same transaction again may succeed.
inline bool IsRetryableMariaDbError(unsigned err) {
  return err == 1213 /* ER_LOCK_DEADLOCK */ || err == 1205 /* ER_LOCK_WAIT_TIMEOUT */;
}

template <typename Fn>
auto MariaDbConnection::InTransaction(uint32_t retries, Fn&& fn) -> decltype(fn()) {
  using R = decltype(fn());
  for (uint32_t attempt = 0;; ++attempt) {
    Status s = Exec("START TRANSACTION");
    if (!s.ok()) return R(std::move(s));
    R r = fn();
    if (r.ok()) {
      s = Exec("COMMIT");
      if (s.ok()) return r;
      r = R(s);
    }
    const unsigned err = last_errno_;
    if (connected()) Exec("ROLLBACK");
    last_errno_ = err;
    if (!IsRetryableMariaDbError(err) || attempt >= retries) {
      if (IsRetryableMariaDbError(err)) return R(Status::Unavailable(StatusOf(r).message()));
      return r;
    }
  }
}

}  // namespace parley::store

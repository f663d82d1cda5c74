#include "store/mariadb/mariadb_connection.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include <fmt/format.h>

namespace parley::store {

namespace {

// mysql_library_init is not thread-safe; every other connector call is, on
// its own handle.
void InitLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

bool IsConnectionError(unsigned err) {
  switch (err) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_COMMANDS_OUT_OF_SYNC:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_NET_READ_INTERRUPTED:
      return true;
    default:
      return false;
  }
}

template <typename T>
T ParseNumber(std::string_view s) {
  T v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

MariaDbResult::~MariaDbResult() {
  if (res_ != nullptr) mysql_free_result(res_);
}

bool MariaDbResult::Next() {
  if (res_ == nullptr) return false;
  row_ = mysql_fetch_row(res_);
  if (row_ == nullptr) return false;
  lengths_ = mysql_fetch_lengths(res_);
  return true;
}

std::string_view MariaDbResult::Str(int col) const {
  if (row_[col] == nullptr) return {};
  return {row_[col], lengths_[col]};
}

uint64_t MariaDbResult::U64(int col) const { return ParseNumber<uint64_t>(Str(col)); }
int64_t MariaDbResult::I64(int col) const { return ParseNumber<int64_t>(Str(col)); }

MariaDbConnection::MariaDbConnection(MariaDbConnectionSettings settings)
    : settings_(std::move(settings)) {
  InitLibraryOnce();
}

MariaDbConnection::~MariaDbConnection() { Close(); }

void MariaDbConnection::Close() {
  if (mysql_ != nullptr) {
    mysql_close(mysql_);
    mysql_ = nullptr;
  }
}

Status MariaDbConnection::Connect() {
  Close();
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::Internal("mysql_init failed (out of memory)");
  const unsigned connect_timeout = settings_.connect_timeout_s;
  const unsigned read_timeout = settings_.read_timeout_s;
  const unsigned write_timeout = settings_.write_timeout_s;
  const my_bool no_reconnect = 0;  // reconnects are ours: a silent one loses session state
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no_reconnect);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // Strict: a value that does not fit fails instead of being truncated.
  // READ COMMITTED: appends to different conversations take no gap locks on
  // each other's unique keys.
  const std::string init = fmt::format(
      "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,"
      "NO_ENGINE_SUBSTITUTION', SESSION innodb_lock_wait_timeout = {}, "
      "SESSION collation_connection = 'utf8mb4_bin'",
      settings_.lock_wait_timeout_s);
  mysql_optionsv(m, MYSQL_INIT_COMMAND, init.c_str());
  mysql_optionsv(m, MYSQL_INIT_COMMAND, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");

  const MariaDbDsn& d = settings_.dsn;
  unsigned long flags = settings_.multi_statements ? CLIENT_MULTI_STATEMENTS : 0;
  const bool socket = !d.socket.empty();
  if (mysql_real_connect(m, socket ? "localhost" : d.host.c_str(), d.user.c_str(),
                         d.password.c_str(), d.database.c_str(), socket ? 0 : d.port,
                         socket ? d.socket.c_str() : nullptr, flags) == nullptr) {
    last_errno_ = mysql_errno(m);
    std::string msg = fmt::format("cannot connect to {}: {}", d.Redacted(), mysql_error(m));
    mysql_close(m);
    // Access denied, unknown database: the server answered, but retrying
    // without a change cannot help. Still UNAVAILABLE to the caller: the
    // store cannot serve.
    return Status::Unavailable(std::move(msg));
  }
  mysql_ = m;
  last_errno_ = 0;
  last_used_ = std::chrono::steady_clock::now();
  if (settings_.pool_connected_at) {
    settings_.pool_connected_at->store(last_used_.time_since_epoch().count());
  }
  return Status::Ok();
}

Status MariaDbConnection::EnsureReady() {
  const auto now = std::chrono::steady_clock::now();
  if (mysql_ != nullptr) {
    if (now - last_used_ < std::chrono::milliseconds(settings_.idle_ping_ms)) return Status::Ok();
    if (mysql_ping(mysql_) == 0) {
      last_used_ = now;
      return Status::Ok();
    }
    // The server went away while we were idle; reconnect at once.
    Close();
    next_connect_ = now;
  }
  const bool peer_connected =
      settings_.pool_connected_at &&
      settings_.pool_connected_at->load() > failed_at_.time_since_epoch().count();
  if (now < next_connect_ && !peer_connected) {
    return Status::Unavailable("MariaDB is unreachable (backing off)");
  }
  Status s = Connect();
  if (s.ok()) {
    backoff_ = std::chrono::milliseconds(0);
    return s;
  }
  backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(settings_.reconnect_backoff_min_ms),
                        std::chrono::milliseconds(settings_.reconnect_backoff_max_ms));
  next_connect_ = now + backoff_;
  failed_at_ = std::chrono::steady_clock::now();
  return s;
}

Status MariaDbConnection::Fail(std::string_view what) {
  last_errno_ = mysql_errno(mysql_);
  std::string msg = fmt::format("{}: {} ({})", what, mysql_error(mysql_), last_errno_);
  if (IsConnectionError(last_errno_)) {
    Close();
    return Status::Unavailable(std::move(msg));
  }
  switch (last_errno_) {
    case ER_DUP_ENTRY:
    case ER_DUP_ENTRY_WITH_KEY_NAME:
      return Status::AlreadyExists(std::move(msg));
    case ER_DATA_TOO_LONG:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
      return Status::InvalidArgument(std::move(msg));
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Status MariaDbConnection::Exec(std::string_view sql) {
  if (mysql_ == nullptr) {
    last_errno_ = CR_SERVER_GONE_ERROR;
    return Status::Unavailable("not connected to MariaDB");
  }
  last_used_ = std::chrono::steady_clock::now();
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return Fail("statement failed");
  affected_rows_ = 0;
  insert_id_ = 0;
  // Every result of every statement is read, so the connection is ready for
  // the next query; a failing later statement stops the loop.
  for (;;) {
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res != nullptr) {
      mysql_free_result(res);
    } else if (mysql_field_count(mysql_) != 0) {
      return Fail("reading a result failed");
    } else {
      affected_rows_ = mysql_affected_rows(mysql_);
      insert_id_ = mysql_insert_id(mysql_);
    }
    int next = mysql_next_result(mysql_);
    if (next < 0) break;
    if (next > 0) return Fail("statement failed");
  }
  last_errno_ = 0;
  return Status::Ok();
}

StatusOr<MariaDbResult> MariaDbConnection::Query(std::string_view sql) {
  if (mysql_ == nullptr) {
    last_errno_ = CR_SERVER_GONE_ERROR;
    return Status::Unavailable("not connected to MariaDB");
  }
  last_used_ = std::chrono::steady_clock::now();
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return Fail("query failed");
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) {
    if (mysql_field_count(mysql_) != 0) return Fail("reading a result failed");
    return Status::Internal("query returned no result set");
  }
  last_errno_ = 0;
  return MariaDbResult(res);
}

void MariaDbConnection::AppendQuoted(std::string& sql, std::string_view s) const {
  const size_t start = sql.size();
  sql.resize(start + 2 * s.size() + 3);
  sql[start] = '\'';
  // Without a connection the statement cannot run anyway; it is still built
  // safely (utf8mb4 needs no character-set-aware escaping).
  unsigned long n =
      mysql_ != nullptr
          ? mysql_real_escape_string(mysql_, sql.data() + start + 1, s.data(), s.size())
          : mysql_escape_string(sql.data() + start + 1, s.data(), s.size());
  sql[start + 1 + n] = '\'';
  sql.resize(start + n + 2);
}

}  // namespace parley::store

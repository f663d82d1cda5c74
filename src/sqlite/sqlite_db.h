// SqliteDb: one SQLite connection and its cache of prepared statements.
// Not thread-safe: a connection belongs to the one thread that uses it (the
// writer or a reader), which is why it is opened with SQLITE_OPEN_NOMUTEX.
// Part of the sqlite room (src/sqlite/), which the store (store/sqlite/) and
// the message log (queue/sqlite/) build on.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace parley::sqlite {

// A cached prepared statement in use. Resets itself (and clears its bindings)
// when it goes out of scope, so that no read transaction stays open.
// Move-only; must not outlive its SqliteDb.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  // Parameters are numbered from 1, as ?1, ?2... in the SQL.
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& BindU(int i, uint64_t v) { return Bind(i, static_cast<int64_t>(v)); }
  // The bytes must stay alive until the statement is stepped (SQLITE_STATIC).
  Stmt& BindText(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return sqlite3_step(s_); }
  // Makes the statement ready to run again (bindings are kept).
  void Reset() { sqlite3_reset(s_); }

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  uint64_t UInt(int col) const { return static_cast<uint64_t>(sqlite3_column_int64(s_, col)); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  // Valid until the next Step() or the statement's reset.
  std::string_view Text(int col) const {
    const auto* p = sqlite3_column_text(s_, col);
    return {reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, col))};
  }
  std::string_view Blob(int col) const {
    const auto* p = sqlite3_column_blob(s_, col);
    return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s_, col))};
  }

 private:
  sqlite3_stmt* s_;
};

class SqliteDb {
 public:
  enum class Mode {
    kWriter,  // creates the file; WAL, synchronous=FULL
    kReader,  // query_only; the file must exist
  };

  // Opens `path` with WAL journaling, a busy timeout and foreign keys off.
  static StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path, Mode mode);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results (DDL, pragmas).
  Status Exec(const char* sql);
  // A statement prepared once per connection. `sql` must have static storage
  // (a string literal): the cache is keyed by its address.
  StatusOr<Stmt> Prepare(const char* sql);
  // Runs a cached statement that returns no rows.
  Status Run(const char* sql) {
    auto st = Prepare(sql);
    if (!st.ok()) return st.status();
    return Done(st->Step(), sql);
  }

  // Status for an SQLite result code: OK for SQLITE_OK/ROW/DONE, ALREADY_EXISTS
  // for a constraint violation, UNAVAILABLE for busy/locked, INTERNAL otherwise.
  Status Error(int rc, std::string_view context) const;
  // OK when `rc` is SQLITE_DONE, else Error().
  Status Done(int rc, std::string_view context) const {
    return rc == SQLITE_DONE ? Status::Ok() : Error(rc, context);
  }

  // The database file's name without its directory ("parley.db").
  std::string_view FileName() const {
    std::string_view path = sqlite3_db_filename(db_, "main");
    return path.substr(path.find_last_of('/') + 1);
  }
  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  // True when no transaction is open (e.g. after SQLite rolled one back).
  bool AutoCommit() const { return sqlite3_get_autocommit(db_) != 0; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

}  // namespace parley::sqlite

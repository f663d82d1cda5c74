#include "sqlite/sqlite_db.h"

#include "sqlite/wal_write_coalescing_vfs.h"

namespace parley::sqlite {

namespace {
// Long enough to ride out a checkpoint; short enough for /readyz to notice.
constexpr int kBusyTimeoutMs = 5000;
}  // namespace

Stmt::~Stmt() {
  if (s_ != nullptr) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, Mode mode) {
  // NOMUTEX: each connection has exactly one owning thread.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (mode == Mode::kWriter) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  // A writer's WAL frames go to the file in few large writes (see the VFS),
  // which relies on the synchronous=FULL set below.
  const char* vfs = mode == Mode::kWriter ? WalWriteCoalescingVfs() : nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Status::Unavailable("sqlite: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  Status s = db->Exec("PRAGMA foreign_keys=OFF");
  if (s.ok() && mode == Mode::kWriter) {
    // FULL: a commit survives power loss; group commit pays one fsync per batch.
    // A 64 MiB page cache (SQLite grows it only as used): with the default
    // 2 MiB, a large batch spills dirty pages to the WAL mid-transaction
    // (see docs/benchmarks.md, "Where the server's time goes").
    s = db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536");
  }
  if (s.ok() && mode == Mode::kReader) s = db->Exec("PRAGMA query_only=1");
  if (!s.ok()) return s;
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status SqliteDb::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status::Internal("sqlite: " + msg);
}

StatusOr<Stmt> SqliteDb::Prepare(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return Stmt(it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  stmts_.emplace(sql, stmt);
  return Stmt(stmt);
}

Status SqliteDb::Error(int rc, std::string_view context) const {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists("sqlite: constraint violated");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable("sqlite: database busy");
    default:
      break;
  }
  std::string msg = "sqlite: ";
  msg += sqlite3_errstr(rc);
  if (rc == sqlite3_extended_errcode(db_)) {
    msg += ": ";
    msg += sqlite3_errmsg(db_);
  }
  msg += " (";
  msg.append(context.substr(0, 60));
  msg += ")";
  return Status::Internal(std::move(msg));
}

}  // namespace parley::sqlite

#include "store/mariadb/mariadb_migrations.h"

#include <mysqld_error.h>

#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace parley::store {

namespace {

constexpr std::string_view kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version    INT UNSIGNED NOT NULL,"
    " name       VARCHAR(255) NOT NULL,"
    " applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
    " PRIMARY KEY (version)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

// GET_LOCK names are server-wide; one lock per database lets databases on one
// server migrate independently.
constexpr std::string_view kLockName = "CONCAT('parley.migrate.', DATABASE())";

Status TooNew(int version) {
  return Status::Internal(
      fmt::format("the database's schema is at version {}, newer than this build's {}: "
                  "run a newer parley",
                  version, LatestMariaDbSchemaVersion()));
}

}  // namespace

int LatestMariaDbSchemaVersion() {
  auto all = MariaDbMigrations();
  return all.empty() ? 0 : all.back().version;
}

StatusOr<int> ReadMariaDbSchemaVersion(MariaDbConnection& conn) {
  auto r = conn.Query("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!r.ok()) {
    if (conn.last_errno() == ER_NO_SUCH_TABLE) return 0;
    return r.status();
  }
  if (!r->Next()) return Status::Internal("schema_version: no row");
  return static_cast<int>(r->I64(0));
}

StatusOr<int> ApplyMariaDbMigrations(MariaDbConnection& conn, uint32_t lock_timeout_s) {
  {
    auto lock = conn.Query(fmt::format("SELECT GET_LOCK({}, {})", kLockName, lock_timeout_s));
    if (!lock.ok()) return lock.status();
    if (!lock->Next() || lock->I64(0) != 1) {
      return Status::Unavailable("another process holds the schema migration lock");
    }
  }
  auto run = [&]() -> StatusOr<int> {
    Status s = conn.Exec(kCreateVersionTable);
    if (!s.ok()) return s;
    auto current = ReadMariaDbSchemaVersion(conn);
    if (!current.ok()) return current.status();
    int version = *current;
    if (version > LatestMariaDbSchemaVersion()) return TooNew(version);
    for (const MariaDbMigration& m : MariaDbMigrations()) {
      if (m.version <= version) continue;
      s = conn.Exec(m.sql);
      if (!s.ok()) {
        return Status(s.code(),
                      fmt::format("migration {:03}_{}: {}", m.version, m.name, s.message()));
      }
      std::string record =
          fmt::format("INSERT INTO schema_version(version, name) VALUES({}, ", m.version);
      conn.AppendQuoted(record, m.name);
      record += ")";
      s = conn.Exec(record);
      if (!s.ok()) return s;
      version = m.version;
      spdlog::info("event=store_migrated version={} name={}", m.version, m.name);
    }
    return version;
  };
  StatusOr<int> result = run();
  if (conn.connected()) conn.Exec(fmt::format("DO RELEASE_LOCK({})", kLockName));
  return result;
}

}  // namespace parley::store

// The MariaDB store's schema migrations: migrations/NNN_name.sql, embedded in
// the binary at build time, applied in version order under a server-side lock
// (GET_LOCK, one per database) and recorded in the schema_version table.
#pragma once

#include <span>
#include <string_view>

#include "common/status.h"
#include "store/mariadb/mariadb_connection.h"

namespace parley::store {

struct MariaDbMigration {
  int version;  // 1, 2, 3, ... without gaps
  std::string_view name;
  std::string_view sql;  // one or more statements
};

// Every migration of this build, ascending (generated: mariadb_migrations_embedded.cc).
std::span<const MariaDbMigration> MariaDbMigrations();

// The schema version this build needs: the last migration's.
int LatestMariaDbSchemaVersion();

// The version recorded in `conn`'s database: 0 when nothing was applied.
StatusOr<int> ReadMariaDbSchemaVersion(MariaDbConnection& conn);

// Applies every migration above the recorded version, in order, each recorded
// once it succeeded; concurrent callers on one database wait for each other
// (at most lock_timeout_s, then UNAVAILABLE). INTERNAL when the database is at
// a version newer than this build's. `conn` must allow multi-statement
// queries. Returns the version afterwards.
StatusOr<int> ApplyMariaDbMigrations(MariaDbConnection& conn, uint32_t lock_timeout_s);

}  // namespace parley::store

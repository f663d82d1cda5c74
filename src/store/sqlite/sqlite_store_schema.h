// The SqliteStore schema and its migrations, versioned by PRAGMA user_version.
#pragma once

#include "common/status.h"
#include "sqlite/sqlite_db.h"

namespace parley::store {

inline constexpr int kStoreSchemaVersion = 3;

// Creates or upgrades the schema on the writer connection to `to_version`
// (an earlier one only for tests of the upgrade), in one transaction.
// INTERNAL when the file was written by a newer Parley.
Status MigrateStoreSchema(sqlite::SqliteDb& db, int to_version = kStoreSchemaVersion);

}  // namespace parley::store

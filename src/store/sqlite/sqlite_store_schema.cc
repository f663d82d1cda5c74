#include "store/sqlite/sqlite_store_schema.h"

#include <iterator>
#include <string>

namespace parley::store {

namespace {

// Version 1. WITHOUT ROWID tables are clustered on their primary key: a
// conversation's messages sit together in seq order, a user's conversation
// entries together.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE users(
  user_id        INTEGER PRIMARY KEY,
  username       TEXT NOT NULL,
  username_lower TEXT NOT NULL UNIQUE,
  password_hash  TEXT NOT NULL,
  created_at     INTEGER NOT NULL);

CREATE TABLE sessions(
  token_hash TEXT PRIMARY KEY,
  user_id    INTEGER NOT NULL,
  expires_at INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE groups(
  group_id   INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  owner      INTEGER NOT NULL,
  created_at INTEGER NOT NULL);

-- join_order grows per group: ownership passes to the smallest.
CREATE TABLE group_members(
  group_id   INTEGER NOT NULL,
  user_id    INTEGER NOT NULL,
  join_order INTEGER NOT NULL,
  joined_at  INTEGER NOT NULL,
  PRIMARY KEY(group_id, user_id)) WITHOUT ROWID;
CREATE INDEX group_members_by_order ON group_members(group_id, join_order);

-- client_id is NULL when the sender gave none, so that such rows never clash.
CREATE TABLE messages(
  conv      TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  msg_id    INTEGER NOT NULL UNIQUE,
  from_user INTEGER NOT NULL,
  to_user   INTEGER NOT NULL,
  to_group  INTEGER NOT NULL,
  body      TEXT NOT NULL,
  ts        INTEGER NOT NULL,
  client_id TEXT,
  PRIMARY KEY(conv, seq),
  UNIQUE(from_user, client_id)) WITHOUT ROWID;
CREATE INDEX messages_by_ts ON messages(ts);

-- active_ts orders conversation lists: the last message's ts, or a group's
-- creation time before its first message.
CREATE TABLE conversations(
  conv      TEXT PRIMARY KEY,
  last_seq  INTEGER NOT NULL,
  last_ts   INTEGER NOT NULL,
  active_ts INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE user_convs(
  user_id  INTEGER NOT NULL,
  conv     TEXT NOT NULL,
  read_seq INTEGER NOT NULL,
  peer     INTEGER NOT NULL,
  group_id INTEGER NOT NULL,
  PRIMARY KEY(user_id, conv)) WITHOUT ROWID;

PRAGMA user_version = 1;
)sql";

// Version 2: who may add a user to groups (model::GroupAdds), and members by
// user, for the groups-per-user bound.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE users ADD COLUMN group_adds INTEGER NOT NULL DEFAULT 0;
CREATE INDEX group_members_by_user ON group_members(user_id);
PRAGMA user_version = 2;
)sql";

// Version 3: messages are kept in msg_id order. A msg_id is a snowflake,
// which grows with time, so the rows of a batch of new messages fill the
// table's last pages together; clustered on (conv, seq), as before, each
// message rewrote a random page of the largest table (about a fifth of the
// store's page writes per message). (conv, seq) is now a unique index, whose
// entries are a fraction of a row. A file of version 2 is copied over in
// the migration's transaction.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE messages_v3(
  msg_id    INTEGER PRIMARY KEY,
  conv      TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  from_user INTEGER NOT NULL,
  to_user   INTEGER NOT NULL,
  to_group  INTEGER NOT NULL,
  body      TEXT NOT NULL,
  ts        INTEGER NOT NULL,
  client_id TEXT,
  UNIQUE(conv, seq),
  UNIQUE(from_user, client_id));
INSERT INTO messages_v3(msg_id, conv, seq, from_user, to_user, to_group, body, ts, client_id)
  SELECT msg_id, conv, seq, from_user, to_user, to_group, body, ts, client_id
  FROM messages ORDER BY msg_id;
DROP TABLE messages;
ALTER TABLE messages_v3 RENAME TO messages;
CREATE INDEX messages_by_ts ON messages(ts);
PRAGMA user_version = 3;
)sql";

}  // namespace

Status MigrateStoreSchema(sqlite::SqliteDb& db, int to_version) {
  Status s = db.Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  int version = -1;
  {
    auto st = db.Prepare("PRAGMA user_version");
    if (!st.ok()) {
      db.Exec("ROLLBACK");
      return st.status();
    }
    if (st->Step() == SQLITE_ROW) version = static_cast<int>(st->Int(0));
  }
  if (version < 0 || version > kStoreSchemaVersion) {
    db.Exec("ROLLBACK");
    return Status::Internal("store schema version " + std::to_string(version) +
                            " is not supported by this build");
  }
  const char* const steps[] = {kSchemaV1, kSchemaV2, kSchemaV3};
  static_assert(std::size(steps) == kStoreSchemaVersion);
  for (int v = version + 1; s.ok() && v <= to_version; ++v) s = db.Exec(steps[v - 1]);
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) db.Exec("ROLLBACK");
  return s;
}

}  // namespace parley::store

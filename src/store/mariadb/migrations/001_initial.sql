-- Parley's store schema, version 1. Applied once by MariaDbStore::Migrate
-- (`parley migrate`), which records it in schema_version. Every statement is
-- re-runnable (IF NOT EXISTS): MariaDB commits each DDL statement on its own,
-- so a migration cut short is completed by running it again.
--
-- utf8mb4 with binary collation everywhere: ids, hashes and client ids
-- compare byte for byte; usernames compare through username_lower, which the
-- store fills with the ASCII-lowercased name (only ASCII letters fold).

CREATE TABLE IF NOT EXISTS users (
  user_id        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  username       VARCHAR(255) NOT NULL,
  username_lower VARCHAR(255) NOT NULL,
  password_hash  VARCHAR(512) NOT NULL,
  created_at     BIGINT NOT NULL,
  PRIMARY KEY (user_id),
  UNIQUE KEY users_by_name (username_lower)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sessions (
  token_hash VARCHAR(255) NOT NULL,
  user_id    BIGINT UNSIGNED NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (token_hash),
  KEY sessions_by_user (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- `groups` is a keyword in newer MySQL; chat_groups avoids quoting it.
CREATE TABLE IF NOT EXISTS chat_groups (
  group_id   BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name       VARCHAR(255) NOT NULL,
  owner      BIGINT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (group_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- join_seq grows with every join, in every group: a group's members in
-- join_seq order are its members in order of joining (ownership passes to
-- the first). AUTO_INCREMENT keeps it right under concurrent joins.
CREATE TABLE IF NOT EXISTS group_members (
  group_id  BIGINT UNSIGNED NOT NULL,
  user_id   BIGINT UNSIGNED NOT NULL,
  join_seq  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  joined_at BIGINT NOT NULL,
  PRIMARY KEY (group_id, user_id),
  KEY group_members_by_join (group_id, join_seq),
  KEY group_members_join_seq (join_seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Clustered on (conv, seq): a conversation's messages sit together in seq
-- order. client_id is NULL when the sender gave none, so such rows never
-- clash on (from_user, client_id).
CREATE TABLE IF NOT EXISTS messages (
  conv      VARCHAR(64) NOT NULL,
  seq       BIGINT UNSIGNED NOT NULL,
  msg_id    BIGINT UNSIGNED NOT NULL,
  from_user BIGINT UNSIGNED NOT NULL,
  to_user   BIGINT UNSIGNED NOT NULL,
  to_group  BIGINT UNSIGNED NOT NULL,
  body      MEDIUMTEXT NOT NULL,
  ts        BIGINT NOT NULL,
  client_id VARCHAR(128) NULL,
  PRIMARY KEY (conv, seq),
  UNIQUE KEY messages_by_msg_id (msg_id),
  UNIQUE KEY messages_by_sender (from_user, client_id),
  KEY messages_by_ts (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per conversation: its last persisted message, and active_ts that
-- orders conversation lists (the last message's ts, or a group's creation
-- time before its first message).
CREATE TABLE IF NOT EXISTS conversations (
  conv      VARCHAR(64) NOT NULL,
  last_seq  BIGINT UNSIGNED NOT NULL,
  last_ts   BIGINT NOT NULL,
  active_ts BIGINT NOT NULL,
  PRIMARY KEY (conv)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A user's entry for each conversation it is in (both parties of a private
-- one, every member of a group), carrying its read cursor.
CREATE TABLE IF NOT EXISTS user_convs (
  user_id  BIGINT UNSIGNED NOT NULL,
  conv     VARCHAR(64) NOT NULL,
  read_seq BIGINT UNSIGNED NOT NULL,
  peer     BIGINT UNSIGNED NOT NULL,
  group_id BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (user_id, conv)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

// Options of MariaDbStore, each default documented where it is declared.
// MariaDbStore::Open validates them (INVALID_ARGUMENT naming the field).
#pragma once

#include <cstdint>

namespace parley::store {

struct MariaDbStoreOptions {
  // Worker threads, each owning one connection: at most this many statements
  // run at once. 1 to 256.
  uint32_t pool_size = 4;
  // Worker threads (and connections) of AppendMessages alone, besides
  // pool_size: the persist group's batches never hold up the reads and
  // account writes behind them, as a backlog of them would after the server
  // was away (the push consumer's group lookups, clients' history pages).
  // 1 to 256.
  uint32_t append_pool_size = 1;
  // Calls queued for a worker; beyond it a call fails at once with
  // UNAVAILABLE. At least 1.
  uint32_t queue_max = 10'000;

  // Client timeouts (MYSQL_OPT_*_TIMEOUT), seconds, 1 to 3600. A statement
  // whose reply does not arrive within read_timeout_s fails with UNAVAILABLE
  // and its connection is reopened.
  uint32_t connect_timeout_s = 3;
  uint32_t read_timeout_s = 30;
  uint32_t write_timeout_s = 30;
  // innodb_lock_wait_timeout of each session, seconds, 1 to 3600.
  uint32_t lock_wait_timeout_s = 10;

  // After a failed connect a worker answers UNAVAILABLE at once, without
  // trying again, for a delay that doubles from min to max (ms).
  uint32_t reconnect_backoff_min_ms = 100;
  uint32_t reconnect_backoff_max_ms = 1'000;
  // A connection idle this long is pinged before use, so that the first call
  // after a server restart does not fail on a dead socket (ms; 0: always).
  uint32_t idle_ping_ms = 1'000;
  // A transaction that hits a deadlock or a lock wait timeout is run again up
  // to this many times. 0 to 100.
  uint32_t deadlock_retries = 3;

  // AppendMessages: a batch of more messages is refused (INVALID_ARGUMENT).
  uint32_t append_batch_max = 10'000;
  // A batch is written as one multi-row INSERT unless it exceeds either bound
  // below; then as several, still in one transaction. Keep the bytes well
  // under the server's max_allowed_packet (16 MiB by default).
  uint32_t append_rows_per_statement = 1'000;
  uint32_t append_statement_bytes_max = 4 << 20;
  // CreateGroup: more initial members are refused (INVALID_ARGUMENT).
  uint32_t group_members_max = 100'000;
  // GetMessages: a larger `limit` is refused (INVALID_ARGUMENT).
  uint32_t page_limit_max = 10'000;

  // Open applies missing schema migrations when true; when false it refuses
  // a schema older than this build's (run `parley migrate`). A newer schema
  // is always refused.
  bool migrate = false;
  // Migrations wait at most this long for the migration lock (GET_LOCK), s.
  uint32_t migration_lock_timeout_s = 60;
};

}  // namespace parley::store

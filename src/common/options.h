// Every tunable of a Parley process, with its default. Filled from the
// command line and an optional config file (see config_file.h); the names in
// the config file are the field names below.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley {

// Validation limits of PROTOCOL.md.
struct Limits {
  uint32_t username_min = 3;
  uint32_t username_max = 32;
  uint32_t password_min = 8;
  uint32_t password_max = 128;
  uint32_t group_name_max = 64;
  uint32_t group_members_max = 1000;  // members given at creation, and size cap
  uint32_t body_max = 4096;           // bytes of UTF-8
  uint32_t page_limit_max = 200;
  uint32_t page_limit_default = 50;
  uint32_t request_body_max = 64 * 1024;  // HTTP body, bytes
  uint32_t ws_frame_max = 64 * 1024;      // WebSocket message, bytes
  uint32_t send_batch_max = 256;          // sends in one LogicService::Send call
};

struct RateLimits {
  // Per-user token bucket on sends (WebSocket and HTTP together).
  double send_per_sec = 1000;
  double send_burst = 2000;
  // A WebSocket that gets this many rate_limited errors in a row (without an
  // accepted send in between) is closed with 4008.
  uint32_t ws_violations_before_close = 200;
  // Per-IP token bucket on register and login.
  double auth_per_sec = 20;
  double auth_burst = 100;
  // The per-IP bucket above is per network: addresses are cut to these
  // prefix lengths (one IPv6 /64 is what one subscriber usually holds).
  uint32_t auth_ipv4_prefix = 32;
  uint32_t auth_ipv6_prefix = 64;
  // Per-account token bucket on failed logins (per username, whatever the
  // address): a password guesser gets this many tries, then one per 20 s.
  double login_failures_per_sec = 0.05;
  double login_failures_burst = 10;
  // Per-user token bucket on user lookups (GET /api/v1/users/...), so that
  // walking the id space is slow.
  double user_lookups_per_sec = 1;
  double user_lookups_burst = 30;
};

// The HTTP edge (api tier).
struct HttpOptions {
  // Reverse proxies (CIDRs or addresses) whose X-Forwarded-For is believed:
  // for a request from one of them, the client address is the rightmost
  // X-Forwarded-For address that is not itself trusted. Empty: the header is
  // ignored and the TCP peer is the client.
  std::vector<std::string> trusted_proxies;
};

struct ConnectionOptions {
  // A WebSocket with no frame (data, ping or pong) from the client for this
  // long is closed; the server pings at half of it (Beast keep-alive pings).
  uint32_t idle_timeout_ms = 60'000;
  // Bytes queued for one connection beyond which it is a slow consumer and
  // is closed (1008 policy) rather than letting memory grow.
  uint32_t outbound_queue_max_bytes = 4 * 1024 * 1024;
  // HTTP: an idle keep-alive connection is closed after this long.
  uint32_t http_idle_timeout_ms = 30'000;
  // Graceful shutdown waits at most this long for queues to drain.
  uint32_t drain_timeout_ms = 5'000;
  // Deadline of each logic call made for a WebSocket (Connect, a send batch,
  // sync, read): logic refuses a call not started by then (unavailable).
  uint32_t logic_call_timeout_ms = 10'000;
  // Deadline of the logic call behind each HTTP API request.
  uint32_t http_logic_timeout_ms = 10'000;
  // A connection's sends go to logic in batches, one batch in flight at a
  // time, which keeps their order. A batch holds at most this many sends.
  uint32_t ws_send_batch_max = 64;
  // Sends of one connection read while a batch is in flight wait for the
  // next one; beyond this many waiting, a send is answered rate_limited
  // (and counts toward rate.ws_violations_before_close).
  uint32_t ws_send_pending_max = 1024;
  // Sync and read frames of one connection awaiting logic's answer; beyond
  // this many, a frame is answered rate_limited. A client may pipeline, but
  // not without bound, and reading never pauses.
  uint32_t ws_calls_in_flight_max = 1024;
};

struct StorageOptions {
  std::string data_dir = "./parley-data";
  // Group commit: a batch is committed when it reaches this many entries or
  // when the writer finds nothing more queued, whichever is first.
  uint32_t commit_batch_max = 2048;
  // Idempotency keys are remembered at least this long.
  int64_t idempotency_ttl_ms = 24LL * 3600 * 1000;
  // Keys kept in memory; beyond it misses are checked against the store.
  uint32_t idempotency_cache_max = 2'000'000;
  // Unacked log entries are redelivered to another consumer after this long.
  uint32_t log_redelivery_ms = 30'000;
  // Sessions and groups cached in front of the store (embedded mode); each
  // cache is cleared wholesale when full.
  uint32_t session_cache_max = 100'000;
  uint32_t group_cache_max = 100'000;
  // The recent window (embedded mode): the newest messages of each of the
  // most recently active conversations, from which sync serves what the
  // store does not have yet.
  uint32_t recent_per_conv = 256;
  uint32_t recent_convs_max = 50'000;
};

// Cluster mode: where the shared servers are, and how the cluster is cut.
// Every process of one cluster must agree on `partitions`.
struct ClusterOptions {
  std::string etcd = "127.0.0.1:2379";   // host:port[,host:port...]
  std::string redis = "127.0.0.1:6379";  // host:port
  std::string mysql;                     // mysql://user:password@host:port/database
  std::string grpc_listen = "127.0.0.1:0";
  // This process's name in discovery (e.g. "logic-1"); allocated through
  // etcd as "<role>-<n>" when empty.
  std::string node_name;
  // Redis stream partitions of the message log (also the unit of task
  // ownership). Fixed for the life of a cluster's data.
  uint32_t partitions = 16;
  // Discovery lease: a process that stops renewing it is gone from every
  // watcher after at most this long.
  int64_t lease_ttl_ms = 3'000;
  // Virtual nodes per task node on the partition hash ring.
  uint32_t ring_vnodes = 64;
  // MariaDB connections per process that uses the store.
  uint32_t mysql_pool = 4;
};

struct Options {
  std::string listen = "127.0.0.1:8080";
  // Several processes share `listen` (SO_REUSEPORT): the api processes of a
  // cluster behind one public port.
  bool share_listen_port = false;
  // Public URL base for /api/v1/endpoints; derived from `listen` when empty.
  std::string public_ws_url;
  std::string web_root;  // web client assets; found next to the binary when empty
  uint32_t threads = 1;  // network threads (io_context runners)
  uint32_t node_id = 1;  // snowflake node id, 0-1023
  std::string password_hash_cost = "interactive";  // min | interactive | moderate
  // Threads hashing passwords (register, login), and hashes that may wait for
  // one; beyond that register and login answer 503 with Retry-After.
  uint32_t password_hash_threads = 2;
  uint32_t password_hash_queue_max = 32;
  // How often expired sessions are deleted from the store (embedded mode and
  // the cluster's logic processes); 0: never.
  int64_t session_purge_interval_ms = 3'600'000;
  int64_t token_ttl_ms = 30LL * 24 * 3600 * 1000;
  std::string log_level = "info";   // trace | debug | info | warn | error | off
  std::string log_format = "text";  // text (logfmt) | json (one object per line)
  Limits limits;
  RateLimits rate;
  HttpOptions http;
  ConnectionOptions conn;
  StorageOptions storage;
  ClusterOptions cluster;
};

}  // namespace parley

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
  // Bytes of JSON of the messages in one sync reply or history page: a page
  // stops before the message that would pass it (has_more says the rest is
  // there), so that a reply always fits well under
  // conn.outbound_queue_max_bytes (control characters escape 6x). The first
  // message always fits: body_max bounds it (6 * 4096 B plus its fields).
  uint32_t sync_reply_max_bytes = 256 * 1024;
  // Groups one user may be a member of (created or added to): bounds what
  // others can make a user's `hello` and conversation list carry. Telegram's
  // 500 is ample for people.
  uint32_t groups_per_user_max = 500;
  // Conversations in one `hello` or GET /api/v1/conversations page (newest
  // first; `has_more` and a cursor lead to the rest).
  uint32_t conversations_page_max = 500;
};

struct RateLimits {
  // Per-user token bucket on sends (WebSocket and HTTP together): far above
  // any typist, far below a script (docs/configuration.md says why).
  double send_per_sec = 20;
  double send_burst = 100;
  // A WebSocket that gets this many rate_limited errors in a row (without an
  // accepted send in between) is closed with 4008.
  uint32_t ws_violations_before_close = 200;
  // Per-IP token bucket on register and login.
  double auth_per_sec = 20;
  double auth_burst = 100;
  // Per-user token bucket on read receipts (WebSocket `read`). A client
  // marks a conversation read as its user looks at it (at most once per
  // message shown, in a busy group a few a second).
  double read_per_sec = 20;
  double read_burst = 200;
  // Per-user token bucket on sync (WebSocket) and history pages (HTTP)
  // together. The burst covers a reconnect that syncs many conversations.
  double sync_per_sec = 20;
  double sync_burst = 400;
  // Per-user token buckets (per logic node) on creating groups and on
  // adding a member: people make a few groups a day and add a handful of
  // people at a time; a script that adds strangers in bulk is slowed to a
  // crawl.
  double group_create_per_sec = 0.1;  // 6 a minute
  double group_create_burst = 10;
  double group_add_per_sec = 0.5;  // 30 a minute
  double group_add_burst = 20;
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
  // is closed (4008 policy) rather than letting memory grow. 1 MiB is
  // hundreds of chat messages.
  uint32_t outbound_queue_max_bytes = 1024 * 1024;
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

  // Caps on open WebSockets (0: no cap), enforced by the process that accepts
  // the client's socket: the connect node, or the api's /ws proxy in a
  // cluster. Beyond them an upgrade is refused before the handshake (HTTP 429
  // per IP or user, 503 in total). Per user: a person's devices and tabs. Per
  // IP: a household or office behind one NAT. In total: what one node holds
  // (also bounded by the process's open-file limit less a reserve).
  uint32_t ws_connections_per_user_max = 32;
  uint32_t ws_connections_per_ip_max = 256;
  uint32_t ws_connections_max = 50'000;
  // Bytes queued for all WebSockets of a node together. Past it, a connection
  // that already has frames waiting is closed as a slow consumer (4008) when
  // more come for it; one that keeps up still gets its frames.
  uint64_t outbound_total_max_bytes = 256ull * 1024 * 1024;
  // A connection with bytes queued whose writes made no progress for this
  // long (the client does not read, whether or not it pings) is closed as a
  // slow consumer (4008). 0: never.
  uint32_t write_stall_timeout_ms = 20'000;
  // How often one sweep per node closes connections whose token expired
  // (4001) or whose writes stalled. The delay of either close is at most this.
  uint32_t sweep_interval_ms = 1'000;
  // Cluster connect nodes: comma-separated IP addresses of the api processes
  // (their /ws proxy), whose connections are not counted per IP (the proxy
  // caps each client address itself). Api nodes registered under a specific
  // address are added from discovery; this is for ones bound to a wildcard.
  std::string ws_proxy_addresses;
};

struct StorageOptions {
  std::string data_dir = "./parley-data";
  // Group commit: a batch is committed when it reaches this many entries or
  // when the writer finds nothing more queued, whichever is first.
  uint32_t commit_batch_max = 2048;
  // The store's writes that no client waits on (the persist consumer's
  // batches: the log already holds those messages durably) wait up to this
  // long to be committed together; 0 commits them as soon as the writer is free.
  uint32_t store_commit_linger_ms = 250;
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
  // ... and the bytes the cached groups may take (a group of 1000 members
  // is some 10 KiB).
  uint64_t group_cache_max_bytes = 64ull << 20;
  // The recent window (embedded mode): the newest messages of each of the
  // most recently active conversations, from which sync serves what the
  // store does not have yet.
  uint32_t recent_per_conv = 256;
  uint32_t recent_convs_max = 50'000;
  // Byte bounds of the recent window (the serialized size of its messages):
  // per conversation (embedded and cluster), and in total (embedded). The
  // oldest messages go first; the newest of a conversation always stays.
  uint32_t recent_conv_max_bytes = 256 * 1024;
  uint64_t recent_max_bytes = 256ULL * 1024 * 1024;
  // Read cursors remembered per logic node, so that a read receipt that
  // moves nothing is neither written nor pushed; cleared when full.
  uint32_t read_cursor_cache_max = 100'000;
  // User ids each logic node remembers as existing (recipient and member
  // checks); cleared when full, since forgetting one costs one store lookup.
  uint32_t known_users_cache_max = 200'000;
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
  // watcher after at most this long (whole seconds in etcd). It bounds how
  // long a dead task node's partitions wait for another; a process whose
  // renewals go unanswered for about two thirds of it stops itself.
  int64_t lease_ttl_ms = 2'000;
  // A logic process that dies in the middle of a send leaves that send's
  // idempotency claim and the seq lease of its conversations in Redis; they
  // lapse after these. A resend with the same id, and the conversation's
  // next sends, wait that long. A live process slower than these is fenced
  // off by the append (its send fails and is resent; nothing is stored
  // twice), so they only need to exceed a send's usual time in logic.
  uint32_t send_claim_ttl_ms = 2'000;
  uint32_t seq_lease_ttl_ms = 2'000;
  // Virtual nodes per task node on the partition hash ring.
  uint32_t ring_vnodes = 64;
  // MariaDB connections per process that uses the store, and those of
  // message appends (the persist group's) alone besides.
  uint32_t mysql_pool = 4;
  uint32_t mysql_append_pool = 1;
  // ConnectRPC pushes to one connect node go one request at a time (so they
  // keep their order); those made meanwhile are merged into requests of at
  // most push_request_max_bytes, and at most push_queue_max_bytes wait.
  uint32_t push_request_max_bytes = 1 << 20;
  uint64_t push_queue_max_bytes = 64ULL << 20;
};

struct Options {
  std::string listen = "127.0.0.1:8080";
  // Several processes share `listen` (SO_REUSEPORT): the api processes of a
  // cluster behind one public port.
  bool share_listen_port = false;
  // Public URL base for /api/v1/endpoints; derived from `listen` when empty.
  std::string public_ws_url;
  // The admin listener of processes with a client port (serve, api,
  // connect): /metrics and the detailed /readyz, which the client port does
  // not serve. Loopback by default, so only this host can read them; ""
  // turns it off. Logic and task have no client port: their `listen` is
  // their admin listener and this is not used.
  std::string admin_listen = "127.0.0.1:9464";
  // When not empty, the admin listener answers /metrics and /readyz only to
  // requests with "Authorization: Bearer <admin_token>" (for an admin
  // address reachable from other hosts).
  std::string admin_token;
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

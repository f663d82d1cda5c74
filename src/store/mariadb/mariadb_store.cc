#include "store/mariadb/mariadb_store.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "model/conversation.h"
#include "store/mariadb/mariadb_connection.h"
#include "store/mariadb/mariadb_migrations.h"
#include "store/mariadb/mariadb_sql.h"
#include "store/mariadb/mariadb_worker_pool.h"

namespace parley::store {

namespace {

constexpr const char* kUserColumns = "user_id, username, password_hash, created_at, group_adds";
constexpr const char* kMessageColumns =
    "seq, msg_id, from_user, to_user, to_group, body, ts, client_id";

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status CheckRange(const char* field, uint64_t v, uint64_t lo, uint64_t hi) {
  if (v >= lo && v <= hi) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("MariaDbStoreOptions.{} must be {} to {}", field, lo, hi));
}

Status ValidateOptions(const MariaDbStoreOptions& o) {
  for (Status s : {
           CheckRange("pool_size", o.pool_size, 1, 256),
           CheckRange("append_pool_size", o.append_pool_size, 1, 256),
           CheckRange("queue_max", o.queue_max, 1, 100'000'000),
           CheckRange("connect_timeout_s", o.connect_timeout_s, 1, 3600),
           CheckRange("read_timeout_s", o.read_timeout_s, 1, 3600),
           CheckRange("write_timeout_s", o.write_timeout_s, 1, 3600),
           CheckRange("lock_wait_timeout_s", o.lock_wait_timeout_s, 1, 3600),
           CheckRange("reconnect_backoff_min_ms", o.reconnect_backoff_min_ms, 1, 600'000),
           CheckRange("reconnect_backoff_max_ms", o.reconnect_backoff_max_ms,
                      o.reconnect_backoff_min_ms, 600'000),
           CheckRange("idle_ping_ms", o.idle_ping_ms, 0, 3'600'000),
           CheckRange("deadlock_retries", o.deadlock_retries, 0, 100),
           CheckRange("append_batch_max", o.append_batch_max, 1, 1'000'000),
           CheckRange("append_rows_per_statement", o.append_rows_per_statement, 1, 100'000),
           CheckRange("append_statement_bytes_max", o.append_statement_bytes_max, 64 << 10,
                      1 << 30),
           CheckRange("page_limit_max", o.page_limit_max, 1, 1'000'000),
           CheckRange("group_members_max", o.group_members_max, 1, 10'000'000),
           CheckRange("migration_lock_timeout_s", o.migration_lock_timeout_s, 0, 3600),
       }) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

MariaDbConnectionSettings SettingsFor(const MariaDbDsn& dsn, const MariaDbStoreOptions& o,
                                      bool multi_statements) {
  MariaDbConnectionSettings s;
  s.dsn = dsn;
  s.connect_timeout_s = o.connect_timeout_s;
  s.read_timeout_s = o.read_timeout_s;
  s.write_timeout_s = o.write_timeout_s;
  s.lock_wait_timeout_s = o.lock_wait_timeout_s;
  s.reconnect_backoff_min_ms = o.reconnect_backoff_min_ms;
  s.reconnect_backoff_max_ms = o.reconnect_backoff_max_ms;
  s.idle_ping_ms = o.idle_ping_ms;
  s.multi_statements = multi_statements;
  return s;
}

// A connection for the one-off work of Open, Migrate and SchemaVersion.
StatusOr<std::unique_ptr<MariaDbConnection>> ConnectOnce(const std::string& dsn_text,
                                                         const MariaDbStoreOptions& options,
                                                         bool multi_statements) {
  Status s = ValidateOptions(options);
  if (!s.ok()) return s;
  auto dsn = MariaDbDsn::Parse(dsn_text);
  if (!dsn.ok()) return dsn.status();
  auto conn = std::make_unique<MariaDbConnection>(SettingsFor(*dsn, options, multi_statements));
  s = conn->Connect();
  if (!s.ok()) return s;
  return conn;
}

UserRecord ReadUser(const MariaDbResult& r) {
  return UserRecord{r.U64(0), std::string(r.Str(1)), std::string(r.Str(2)), r.I64(3),
                    r.U64(4) == 1 ? GroupAdds::kNobody : GroupAdds::kAnyone};
}

StatusOr<UserRecord> FindUser(MariaDbConnection& conn, const SqlBuilder& q) {
  auto r = conn.Query(q.str());
  if (!r.ok()) return r.status();
  if (!r->Next()) return Status::NotFound("user not found");
  return ReadUser(*r);
}

// The group and its members as of one statement's snapshot.
StatusOr<rpc::Group> LoadGroup(MariaDbConnection& conn, uint64_t group_id) {
  SqlBuilder q(conn);
  q.Raw(
       "SELECT g.name, g.owner, m.user_id FROM chat_groups g LEFT JOIN group_members m "
       "ON m.group_id = g.group_id WHERE g.group_id = ")
      .Num(group_id)
      .Raw(" ORDER BY m.join_seq");
  auto r = conn.Query(q.str());
  if (!r.ok()) return r.status();
  rpc::Group g;
  bool found = false;
  while (r->Next()) {
    if (!found) {
      g.set_group_id(group_id);
      g.set_name(std::string(r->Str(0)));
      g.set_owner(r->U64(1));
      found = true;
    }
    if (!r->IsNull(2)) g.add_members(r->U64(2));
  }
  if (!found) return Status::NotFound("group not found");
  return g;
}

// Locks the group's row for the rest of the transaction: member changes of
// one group take turns.
Status LockGroup(MariaDbConnection& conn, uint64_t group_id, uint64_t* owner) {
  SqlBuilder q(conn);
  q.Raw("SELECT owner FROM chat_groups WHERE group_id = ").Num(group_id).Raw(" FOR UPDATE");
  auto r = conn.Query(q.str());
  if (!r.ok()) return r.status();
  if (!r->Next()) return Status::NotFound("group not found");
  if (owner != nullptr) *owner = r->U64(0);
  return Status::Ok();
}

// May each of `users` join one more group under `rules`? Locks their users
// rows for the rest of the transaction first, so that joins of one user take
// turns whichever groups they are to, and the counts below hold until the
// insert. `creator`'s own GroupAdds setting does not apply (0: none).
Status CheckJoins(MariaDbConnection& conn, const std::vector<uint64_t>& users, uint64_t creator,
                  const MembershipRules& rules) {
  if (users.empty()) return Status::Ok();
  {
    SqlBuilder q(conn);
    q.Raw("SELECT user_id, group_adds FROM users WHERE user_id IN (");
    for (size_t i = 0; i < users.size(); ++i) q.Raw(i ? "," : "").Num(users[i]);
    q.Raw(") ORDER BY user_id FOR UPDATE");
    auto r = conn.Query(q.str());
    if (!r.ok()) return r.status();
    while (r->Next()) {
      if (r->U64(0) != creator && r->U64(1) == static_cast<uint64_t>(GroupAdds::kNobody)) {
        return Status::PermissionDenied("user " + std::to_string(r->U64(0)) +
                                        " does not accept being added to groups");
      }
    }
  }
  if (rules.groups_per_user_max == UINT32_MAX) return Status::Ok();
  SqlBuilder q(conn);
  q.Raw("SELECT user_id FROM group_members WHERE user_id IN (");
  for (size_t i = 0; i < users.size(); ++i) q.Raw(i ? "," : "").Num(users[i]);
  q.Raw(") GROUP BY user_id HAVING COUNT(*) >= ").Num(rules.groups_per_user_max).Raw(" LIMIT 1");
  auto r = conn.Query(q.str());
  if (!r.ok()) return r.status();
  if (r->Next()) {
    return Status::InvalidArgument("user " + std::to_string(r->U64(0)) + " is in " +
                                   std::to_string(rules.groups_per_user_max) +
                                   " groups, the most allowed");
  }
  return Status::Ok();
}

void ReadMessage(const MariaDbResult& r, const std::string& conv, rpc::ChatMessage& m) {
  m.set_conv(conv);
  m.set_seq(r.U64(0));
  m.set_msg_id(r.U64(1));
  m.set_from(r.U64(2));
  m.set_to_user(r.U64(3));
  m.set_to_group(r.U64(4));
  m.set_body(std::string(r.Str(5)));
  m.set_ts(r.I64(6));
  if (!r.IsNull(7)) m.set_client_id(std::string(r.Str(7)));
}

// --- AppendMessages ---

// One statement of the form head row sep row sep ... tail, run as soon as
// the next row would take it over the row or byte limit (and by Flush).
class ChunkedStatement {
 public:
  ChunkedStatement(MariaDbConnection& conn, std::string_view head, std::string_view sep,
                   std::string_view tail, const MariaDbStoreOptions& options)
      : conn_(conn),
        head_(head),
        sep_(sep),
        tail_(tail),
        rows_max_(options.append_rows_per_statement),
        bytes_max_(options.append_statement_bytes_max) {}

  Status Add(const std::string& row) {
    if (rows_ > 0 && (rows_ >= rows_max_ ||
                      sql_.size() + sep_.size() + row.size() + tail_.size() > bytes_max_)) {
      Status s = Flush();
      if (!s.ok()) return s;
    }
    sql_ += rows_ == 0 ? head_ : sep_;
    sql_ += row;
    ++rows_;
    return Status::Ok();
  }
  Status Flush() {
    if (rows_ == 0) return Status::Ok();
    sql_ += tail_;
    Status s = conn_.Exec(sql_);
    sql_.clear();
    rows_ = 0;
    return s;
  }

 private:
  MariaDbConnection& conn_;
  std::string_view head_, sep_, tail_;
  uint32_t rows_max_, bytes_max_;
  std::string sql_;
  uint32_t rows_ = 0;
};

Status AppendBatch(MariaDbConnection& conn, const std::vector<rpc::ChatMessage>& batch,
                   const MariaDbStoreOptions& options) {
  // Ascending (conv, seq): concurrent batches lock rows in one order.
  std::vector<const rpc::ChatMessage*> rows;
  rows.reserve(batch.size());
  for (const auto& m : batch) {
    if (!model::ConvId::Parse(m.conv()) || m.seq() == 0) {
      spdlog::error("event=store_bad_message conv={} seq={} msg_id={}", m.conv(), m.seq(),
                    m.msg_id());
      continue;
    }
    rows.push_back(&m);
  }
  if (rows.empty()) return Status::Ok();
  std::sort(rows.begin(), rows.end(), [](const auto* x, const auto* y) {
    return std::make_tuple(std::string_view(x->conv()), x->seq()) <
           std::make_tuple(std::string_view(y->conv()), y->seq());
  });

  // 1. The rows, skipping those already present under any unique key.
  {
    ChunkedStatement insert(conn,
                            "INSERT INTO messages(conv, seq, msg_id, from_user, to_user, "
                            "to_group, body, ts, client_id) VALUES ",
                            ",", " ON DUPLICATE KEY UPDATE msg_id = msg_id", options);
    for (const auto* m : rows) {
      SqlBuilder row(conn);
      row.Raw("(").Str(m->conv()).Raw(",").Num(m->seq()).Raw(",").Num(m->msg_id()).Raw(",");
      row.Num(m->from()).Raw(",").Num(m->to_user()).Raw(",").Num(m->to_group()).Raw(",");
      row.Str(m->body()).Raw(",").Num(int64_t{m->ts()}).Raw(",");
      row.StrOrNull(m->client_id()).Raw(")");
      Status s = insert.Add(row.str());
      if (!s.ok()) return s;
    }
    Status s = insert.Flush();
    if (!s.ok()) return s;
  }

  // 2. Which rows are stored as given (now or by an earlier delivery): only
  // those move their conversation.
  std::set<std::tuple<std::string, uint64_t, uint64_t>> stored;  // conv, seq, msg_id
  for (size_t i = 0; i < rows.size(); i += options.append_rows_per_statement) {
    SqlBuilder q(conn);
    q.Raw("SELECT conv, seq, msg_id FROM messages WHERE msg_id IN (");
    const size_t end = std::min<size_t>(rows.size(), i + options.append_rows_per_statement);
    for (size_t j = i; j < end; ++j) q.Raw(j == i ? "" : ",").Num(rows[j]->msg_id());
    q.Raw(")");
    auto r = conn.Query(q.str());
    if (!r.ok()) return r.status();
    while (r->Next()) stored.emplace(std::string(r->Str(0)), r->U64(1), r->U64(2));
  }

  struct ConvAgg {
    uint64_t last_seq = 0;
    int64_t last_ts = 0;
    std::map<uint64_t, uint64_t> sender_seq;  // each sender has read up to its own message
  };
  std::map<std::string_view, ConvAgg> convs;  // sorted: locks in one order
  size_t skipped = 0;
  for (const auto* m : rows) {
    if (!stored.count({m->conv(), m->seq(), m->msg_id()})) {
      ++skipped;
      // A resend under a new msg_id is expected; another message at this
      // (conv, seq) is a bug upstream.
      spdlog::debug("event=store_append_skipped conv={} seq={} msg_id={}", m->conv(), m->seq(),
                    m->msg_id());
      continue;
    }
    auto& agg = convs[m->conv()];
    agg.last_seq = std::max(agg.last_seq, m->seq());
    agg.last_ts = std::max<int64_t>(agg.last_ts, m->ts());
    auto& s = agg.sender_seq[m->from()];
    s = std::max(s, m->seq());
  }
  if (skipped > 0) {
    spdlog::info("event=store_append_duplicates batch={} skipped={}", rows.size(), skipped);
  }
  if (convs.empty()) return Status::Ok();

  // 3. The conversations' last message and activity.
  {
    ChunkedStatement upsert(
        conn, "INSERT INTO conversations(conv, last_seq, last_ts, active_ts) VALUES ", ",",
        " ON DUPLICATE KEY UPDATE last_seq = GREATEST(last_seq, VALUES(last_seq)), "
        "last_ts = GREATEST(last_ts, VALUES(last_ts)), "
        "active_ts = GREATEST(active_ts, VALUES(active_ts))",
        options);
    for (const auto& [conv, agg] : convs) {
      SqlBuilder row(conn);
      row.Raw("(").Str(conv).Raw(",").Num(agg.last_seq).Raw(",").Num(agg.last_ts).Raw(",");
      row.Num(agg.last_ts).Raw(")");
      Status s = upsert.Add(row.str());
      if (!s.ok()) return s;
    }
    Status s = upsert.Flush();
    if (!s.ok()) return s;
  }

  // 4. Private conversations: an entry for both parties, the senders' cursors
  // moved up. Groups: the senders' cursors of existing entries.
  ChunkedStatement entries(
      conn, "INSERT INTO user_convs(user_id, conv, read_seq, peer, group_id) VALUES ", ",",
      " ON DUPLICATE KEY UPDATE read_seq = GREATEST(read_seq, VALUES(read_seq))", options);
  // The first SELECT of the UNION names the derived table's columns.
  ChunkedStatement cursors(conn, "UPDATE user_convs uc JOIN (", " UNION ALL ",
                           ") x ON uc.user_id = x.user_id AND uc.conv = x.conv "
                           "SET uc.read_seq = GREATEST(uc.read_seq, x.seq)",
                           options);
  for (const auto& [conv, agg] : convs) {
    auto id = model::ConvId::Parse(conv);
    if (id->is_group()) {
      for (const auto& [user, seq] : agg.sender_seq) {
        SqlBuilder row(conn);
        row.Raw("SELECT ").Num(user).Raw(" AS user_id, ").Str(conv).Raw(" AS conv, ");
        row.Num(seq).Raw(" AS seq");
        Status s = cursors.Add(row.str());
        if (!s.ok()) return s;
      }
      continue;
    }
    for (uint64_t user : {id->a, id->b}) {
      auto sent = agg.sender_seq.find(user);
      SqlBuilder row(conn);
      row.Raw("(").Num(user).Raw(",").Str(conv).Raw(",");
      row.Num(sent == agg.sender_seq.end() ? uint64_t{0} : sent->second).Raw(",");
      row.Num(id->PeerOf(user)).Raw(",0)");
      Status s = entries.Add(row.str());
      if (!s.ok()) return s;
      if (id->a == id->b) break;
    }
  }
  Status s = entries.Flush();
  if (!s.ok()) return s;
  return cursors.Flush();
}

}  // namespace

// --- opening ---

StatusOr<std::unique_ptr<MariaDbStore>> MariaDbStore::Open(const std::string& dsn,
                                                           const MariaDbStoreOptions& options) {
  auto conn = ConnectOnce(dsn, options, options.migrate);
  if (!conn.ok()) return conn.status();
  StatusOr<int> version = options.migrate
                              ? ApplyMariaDbMigrations(**conn, options.migration_lock_timeout_s)
                              : ReadMariaDbSchemaVersion(**conn);
  if (!version.ok()) return version.status();
  const int latest = LatestMariaDbSchemaVersion();
  if (*version > latest) {
    return Status::Internal(fmt::format(
        "the database's schema is at version {}, newer than this build's {}: run a newer parley",
        *version, latest));
  }
  if (*version < latest) {
    return Status::Internal(fmt::format(
        "the database's schema is at version {}, this build needs {}: run `parley migrate`",
        *version, latest));
  }
  (*conn)->Close();
  auto parsed = MariaDbDsn::Parse(dsn);  // valid: ConnectOnce parsed it
  auto pool = std::make_unique<MariaDbWorkerPool>(SettingsFor(*parsed, options, false),
                                                  options.pool_size, options.queue_max);
  auto append_pool = std::make_unique<MariaDbWorkerPool>(
      SettingsFor(*parsed, options, false), options.append_pool_size, options.queue_max);
  return std::unique_ptr<MariaDbStore>(
      new MariaDbStore(options, std::move(pool), std::move(append_pool)));
}

StatusOr<int> MariaDbStore::Migrate(const std::string& dsn, const MariaDbStoreOptions& options) {
  auto conn = ConnectOnce(dsn, options, /*multi_statements=*/true);
  if (!conn.ok()) return conn.status();
  return ApplyMariaDbMigrations(**conn, options.migration_lock_timeout_s);
}

StatusOr<int> MariaDbStore::SchemaVersion(const std::string& dsn,
                                          const MariaDbStoreOptions& options) {
  auto conn = ConnectOnce(dsn, options, false);
  if (!conn.ok()) return conn.status();
  return ReadMariaDbSchemaVersion(**conn);
}

int MariaDbStore::LatestSchemaVersion() { return LatestMariaDbSchemaVersion(); }

MariaDbStore::MariaDbStore(const MariaDbStoreOptions& options,
                           std::unique_ptr<MariaDbWorkerPool> pool,
                           std::unique_ptr<MariaDbWorkerPool> append_pool)
    : options_(options), pool_(std::move(pool)), append_pool_(std::move(append_pool)) {}

MariaDbStore::~MariaDbStore() { Close(); }

void MariaDbStore::Close() {
  append_pool_->Close();
  pool_->Close();
}

template <typename R, typename Fn>
void MariaDbStore::RunOn(MariaDbWorkerPool& pool, Retry retry, Fn fn, Callback<R> done) {
  pool.Submit([retry, fn = std::move(fn), done = std::move(done)](MariaDbConnection* conn) {
    if (conn == nullptr) {
      done(R(Status::Unavailable("MariaDB store is closed or its queue is full")));
      return;
    }
    for (int attempt = 0;; ++attempt) {
      Status ready = conn->EnsureReady();
      if (!ready.ok()) {
        done(R(std::move(ready)));
        return;
      }
      R r = fn(*conn);
      // A connection found dead mid-call: a repeatable call runs once more on
      // a fresh one (the server may be back already).
      if (r.ok() || conn->connected() || retry == Retry::kNo || attempt > 0) {
        done(std::move(r));
        return;
      }
    }
  });
}

template <typename R>
void MariaDbStore::Reject(Status status, Callback<R> done) {
  pool_->Submit([status = std::move(status), done = std::move(done)](MariaDbConnection*) {
    done(R(status));
  });
}

// --- accounts ---

void MariaDbStore::CreateUser(std::string username, std::string password_hash, int64_t now,
                              Callback<StatusOr<UserRecord>> done) {
  Run<StatusOr<UserRecord>>(
      Retry::kNo,
      [username = std::move(username), password_hash = std::move(password_hash),
       now](MariaDbConnection& conn) -> StatusOr<UserRecord> {
        SqlBuilder q(conn);
        q.Raw("INSERT INTO users(username, username_lower, password_hash, created_at) VALUES(")
            .Str(username)
            .Raw(",")
            .Str(AsciiLower(username))
            .Raw(",")
            .Str(password_hash)
            .Raw(",")
            .Num(now)
            .Raw(")");
        Status s = conn.Exec(q.str());
        if (s.IsAlreadyExists()) return Status::AlreadyExists("username taken");
        if (!s.ok()) return s;
        return UserRecord{conn.insert_id(), username, password_hash, now};
      },
      std::move(done));
}

void MariaDbStore::FindUserByName(std::string username, Callback<StatusOr<UserRecord>> done) {
  Run<StatusOr<UserRecord>>(
      Retry::kOnceOnLostConnection,
      [lower = AsciiLower(username)](MariaDbConnection& conn) {
        SqlBuilder q(conn);
        q.Raw("SELECT ").Raw(kUserColumns).Raw(" FROM users WHERE username_lower = ").Str(lower);
        return FindUser(conn, q);
      },
      std::move(done));
}

void MariaDbStore::FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) {
  Run<StatusOr<UserRecord>>(
      Retry::kOnceOnLostConnection,
      [user_id](MariaDbConnection& conn) {
        SqlBuilder q(conn);
        q.Raw("SELECT ").Raw(kUserColumns).Raw(" FROM users WHERE user_id = ").Num(user_id);
        return FindUser(conn, q);
      },
      std::move(done));
}

void MariaDbStore::CreateSession(SessionRecord session, Callback<Status> done) {
  Run<Status>(
      Retry::kNo,
      [session = std::move(session)](MariaDbConnection& conn) -> Status {
        SqlBuilder q(conn);
        q.Raw("INSERT INTO sessions(token_hash, user_id, expires_at) VALUES(")
            .Str(session.token_hash)
            .Raw(",")
            .Num(session.user_id)
            .Raw(",")
            .Num(session.expires_at)
            .Raw(")");
        Status s = conn.Exec(q.str());
        if (s.IsAlreadyExists()) return Status::AlreadyExists("session exists");
        return s;
      },
      std::move(done));
}

void MariaDbStore::FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) {
  Run<StatusOr<SessionRecord>>(
      Retry::kOnceOnLostConnection,
      [token_hash = std::move(token_hash)](MariaDbConnection& conn) -> StatusOr<SessionRecord> {
        SqlBuilder q(conn);
        q.Raw("SELECT user_id, expires_at FROM sessions WHERE token_hash = ").Str(token_hash);
        auto r = conn.Query(q.str());
        if (!r.ok()) return r.status();
        if (!r->Next()) return Status::NotFound("session not found");
        return SessionRecord{token_hash, r->U64(0), r->I64(1)};
      },
      std::move(done));
}

void MariaDbStore::DeleteSession(std::string token_hash, Callback<Status> done) {
  Run<Status>(
      Retry::kOnceOnLostConnection,
      [token_hash = std::move(token_hash)](MariaDbConnection& conn) {
        SqlBuilder q(conn);
        q.Raw("DELETE FROM sessions WHERE token_hash = ").Str(token_hash);
        return conn.Exec(q.str());
      },
      std::move(done));
}

void MariaDbStore::SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) {
  Run<Status>(
      Retry::kOnceOnLostConnection,
      [user_id, who](MariaDbConnection& conn) {
        SqlBuilder q(conn);
        q.Raw("UPDATE users SET group_adds = ")
            .Num(static_cast<uint64_t>(who))
            .Raw(" WHERE user_id = ")
            .Num(user_id);
        Status s = conn.Exec(q.str());
        if (!s.ok()) return s;
        if (conn.affected_rows() != 0) return Status::Ok();
        // Unchanged rows count as not affected: tell them from a missing user.
        SqlBuilder probe(conn);
        probe.Raw("SELECT 1 FROM users WHERE user_id = ").Num(user_id);
        auto r = conn.Query(probe.str());
        if (!r.ok()) return r.status();
        return r->Next() ? Status::Ok() : Status::NotFound("user not found");
      },
      std::move(done));
}

void MariaDbStore::PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                                        Callback<StatusOr<uint64_t>> done) {
  Run<StatusOr<uint64_t>>(
      Retry::kOnceOnLostConnection,
      [now, max_rows](MariaDbConnection& conn) -> StatusOr<uint64_t> {
        SqlBuilder q(conn);
        q.Raw("DELETE FROM sessions WHERE expires_at <= ").Num(now).Raw(" LIMIT ").Num(max_rows);
        if (Status s = conn.Exec(q.str()); !s.ok()) return s;
        return conn.affected_rows();
      },
      std::move(done));
}

// --- groups ---

void MariaDbStore::CreateGroup(std::string name, uint64_t owner, std::vector<uint64_t> members,
                               int64_t now, MembershipRules rules,
                               Callback<StatusOr<rpc::Group>> done) {
  if (members.size() > options_.group_members_max) {
    return Reject(Status::InvalidArgument("too many group members"), std::move(done));
  }
  Run<StatusOr<rpc::Group>>(
      Retry::kNo,
      [this, name = std::move(name), owner, members = std::move(members), now,
       rules](MariaDbConnection& conn) {
        // The owner joins first: ownership passes in order of joining, and
        // a multi-row insert numbers join_seq in row order.
        std::vector<uint64_t> joining{owner};
        std::unordered_set<uint64_t> seen{owner};
        for (uint64_t m : members) {
          if (seen.insert(m).second) joining.push_back(m);
        }
        if (joining.size() > rules.group_members_max) {
          return StatusOr<rpc::Group>(Status::InvalidArgument(
              "a group has at most " + std::to_string(rules.group_members_max) + " members"));
        }
        return conn.InTransaction(options_.deadlock_retries, [&]() -> StatusOr<rpc::Group> {
          if (Status s = CheckJoins(conn, joining, owner, rules); !s.ok()) return s;
          {
            SqlBuilder q(conn);
            q.Raw("INSERT INTO chat_groups(name, owner, created_at) VALUES(")
                .Str(name)
                .Raw(",")
                .Num(owner)
                .Raw(",")
                .Num(now)
                .Raw(")");
            Status s = conn.Exec(q.str());
            if (!s.ok()) return s;
          }
          const uint64_t group_id = conn.insert_id();
          const std::string conv = model::ConvId::Group(group_id).ToString();
          // A conversation row from the start, so that the new group sorts by
          // its creation time in conversation lists.
          {
            SqlBuilder q(conn);
            q.Raw("INSERT INTO conversations(conv, last_seq, last_ts, active_ts) VALUES(")
                .Str(conv)
                .Raw(",0,0,")
                .Num(now)
                .Raw(") ON DUPLICATE KEY UPDATE conv = conv");
            Status s = conn.Exec(q.str());
            if (!s.ok()) return s;
          }
          rpc::Group g;
          g.set_group_id(group_id);
          g.set_name(name);
          g.set_owner(owner);
          SqlBuilder join(conn), entries(conn);
          join.Raw("INSERT INTO group_members(group_id, user_id, joined_at) VALUES ");
          entries.Raw("INSERT INTO user_convs(user_id, conv, read_seq, peer, group_id) VALUES ");
          for (uint64_t user : joining) {
            const char* sep = g.members_size() == 0 ? "(" : ",(";
            g.add_members(user);
            join.Raw(sep).Num(group_id).Raw(",").Num(user).Raw(",").Num(now).Raw(")");
            entries.Raw(sep).Num(user).Raw(",").Str(conv).Raw(",0,0,").Num(group_id).Raw(")");
          }
          entries.Raw(" ON DUPLICATE KEY UPDATE read_seq = read_seq");
          Status s = conn.Exec(join.str());
          if (s.ok()) s = conn.Exec(entries.str());
          if (!s.ok()) return s;
          return g;
        });
      },
      std::move(done));
}

void MariaDbStore::GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) {
  Run<StatusOr<rpc::Group>>(
      Retry::kOnceOnLostConnection,
      [group_id](MariaDbConnection& conn) { return LoadGroup(conn, group_id); }, std::move(done));
}

void MariaDbStore::AddGroupMember(uint64_t group_id, uint64_t user_id, int64_t now,
                                  MembershipRules rules, Callback<Status> done) {
  Run<Status>(
      Retry::kOnceOnLostConnection,
      [this, group_id, user_id, now, rules](MariaDbConnection& conn) {
        return conn.InTransaction(options_.deadlock_retries, [&]() -> Status {
          // With the group's row locked its members cannot change under the
          // count below (READ COMMITTED: each read sees the latest commit).
          Status s = LockGroup(conn, group_id, nullptr);
          if (!s.ok()) return s;
          {
            SqlBuilder q(conn);
            q.Raw("SELECT COUNT(*), COALESCE(SUM(user_id = ")
                .Num(user_id)
                .Raw("), 0) FROM group_members WHERE group_id = ")
                .Num(group_id);
            auto r = conn.Query(q.str());
            if (!r.ok()) return r.status();
            if (!r->Next()) return Status::Internal("group_members: no count");
            if (r->U64(1) != 0) return Status::Ok();  // already a member
            if (r->U64(0) >= rules.group_members_max) {
              return Status::InvalidArgument("the group is full");
            }
          }
          s = CheckJoins(conn, {user_id}, /*creator=*/0, rules);
          if (!s.ok()) return s;
          {
            SqlBuilder q(conn);
            q.Raw("INSERT INTO group_members(group_id, user_id, joined_at) VALUES(")
                .Num(group_id)
                .Raw(",")
                .Num(user_id)
                .Raw(",")
                .Num(now)
                .Raw(") ON DUPLICATE KEY UPDATE group_id = group_id");
            s = conn.Exec(q.str());
            if (!s.ok()) return s;
            if (conn.affected_rows() == 0) return Status::Ok();  // already a member
          }
          // History from before joining is not unread.
          const std::string conv = model::ConvId::Group(group_id).ToString();
          SqlBuilder q(conn);
          q.Raw("INSERT INTO user_convs(user_id, conv, read_seq, peer, group_id) VALUES(")
              .Num(user_id)
              .Raw(",")
              .Str(conv)
              .Raw(",COALESCE((SELECT last_seq FROM conversations WHERE conv = ")
              .Str(conv)
              .Raw("), 0), 0, ")
              .Num(group_id)
              .Raw(") ON DUPLICATE KEY UPDATE read_seq = read_seq");
          return conn.Exec(q.str());
        });
      },
      std::move(done));
}

void MariaDbStore::RemoveGroupMember(uint64_t group_id, uint64_t user_id,
                                     Callback<StatusOr<rpc::Group>> done) {
  Run<StatusOr<rpc::Group>>(
      Retry::kNo,
      [this, group_id, user_id](MariaDbConnection& conn) {
        return conn.InTransaction(options_.deadlock_retries, [&]() -> StatusOr<rpc::Group> {
          uint64_t owner = 0;
          Status s = LockGroup(conn, group_id, &owner);
          if (!s.ok()) return s;
          {
            SqlBuilder q(conn);
            q.Raw("DELETE FROM group_members WHERE group_id = ")
                .Num(group_id)
                .Raw(" AND user_id = ")
                .Num(user_id);
            s = conn.Exec(q.str());
            if (!s.ok()) return s;
            if (conn.affected_rows() == 0) return Status::NotFound("not a member of the group");
          }
          {
            SqlBuilder q(conn);
            q.Raw("DELETE FROM user_convs WHERE user_id = ")
                .Num(user_id)
                .Raw(" AND conv = ")
                .Str(model::ConvId::Group(group_id).ToString());
            s = conn.Exec(q.str());
            if (!s.ok()) return s;
          }
          if (owner == user_id) {
            SqlBuilder q(conn);
            q.Raw(
                 "UPDATE chat_groups SET owner = COALESCE((SELECT user_id FROM group_members "
                 "WHERE group_id = ")
                .Num(group_id)
                .Raw(" ORDER BY join_seq LIMIT 1), 0) WHERE group_id = ")
                .Num(group_id);
            s = conn.Exec(q.str());
            if (!s.ok()) return s;
          }
          return LoadGroup(conn, group_id);
        });
      },
      std::move(done));
}

// --- conversations ---

void MariaDbStore::ListConversations(uint64_t user_id,
                                     Callback<StatusOr<std::vector<rpc::ConvState>>> done) {
  Run<StatusOr<std::vector<rpc::ConvState>>>(
      Retry::kOnceOnLostConnection,
      [user_id](MariaDbConnection& conn) -> StatusOr<std::vector<rpc::ConvState>> {
        SqlBuilder q(conn);
        q.Raw(
             "SELECT uc.conv, COALESCE(c.last_seq, 0), uc.read_seq, uc.peer, uc.group_id, "
             "COALESCE(c.last_ts, 0) FROM user_convs uc "
             "LEFT JOIN conversations c ON c.conv = uc.conv WHERE uc.user_id = ")
            .Num(user_id)
            .Raw(" ORDER BY COALESCE(c.active_ts, 0) DESC, uc.conv");
        auto r = conn.Query(q.str());
        if (!r.ok()) return r.status();
        std::vector<rpc::ConvState> out;
        while (r->Next()) {
          auto& c = out.emplace_back();
          c.set_conv(std::string(r->Str(0)));
          c.set_last_seq(r->U64(1));
          c.set_read_seq(r->U64(2));
          c.set_peer(r->U64(3));
          c.set_group_id(r->U64(4));
          c.set_last_ts(r->I64(5));
        }
        return out;
      },
      std::move(done));
}

void MariaDbStore::SetReadSeq(uint64_t user_id, std::string conv, uint64_t seq,
                              Callback<StatusOr<uint64_t>> done) {
  auto id = model::ConvId::Parse(conv);
  if (!id) return Reject(Status::InvalidArgument("bad conversation id"), std::move(done));
  Run<StatusOr<uint64_t>>(
      Retry::kOnceOnLostConnection,
      [this, user_id, conv = std::move(conv), seq, id = *id](MariaDbConnection& conn) {
        return conn.InTransaction(options_.deadlock_retries, [&]() -> StatusOr<uint64_t> {
          SqlBuilder w(conn);
          if (id.HasParticipant(user_id)) {
            // A private conversation whose messages are not persisted yet
            // still takes the user's cursor.
            w.Raw("INSERT INTO user_convs(user_id, conv, read_seq, peer, group_id) VALUES(")
                .Num(user_id)
                .Raw(",")
                .Str(conv)
                .Raw(",")
                .Num(seq)
                .Raw(",")
                .Num(id.PeerOf(user_id))
                .Raw(",0) ON DUPLICATE KEY UPDATE read_seq = GREATEST(read_seq, VALUES(read_seq))");
          } else {
            w.Raw("UPDATE user_convs SET read_seq = GREATEST(read_seq, ")
                .Num(seq)
                .Raw(") WHERE user_id = ")
                .Num(user_id)
                .Raw(" AND conv = ")
                .Str(conv);
          }
          Status s = conn.Exec(w.str());
          if (!s.ok()) return s;
          SqlBuilder q(conn);
          q.Raw("SELECT read_seq FROM user_convs WHERE user_id = ")
              .Num(user_id)
              .Raw(" AND conv = ")
              .Str(conv);
          auto r = conn.Query(q.str());
          if (!r.ok()) return r.status();
          if (!r->Next()) return Status::NotFound("conversation not found");
          return r->U64(0);
        });
      },
      std::move(done));
}

void MariaDbStore::LoadLastSeqs(
    Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) {
  using Result = std::vector<std::pair<std::string, uint64_t>>;
  Run<StatusOr<Result>>(
      Retry::kOnceOnLostConnection,
      [](MariaDbConnection& conn) -> StatusOr<Result> {
        auto r = conn.Query("SELECT conv, last_seq FROM conversations WHERE last_seq > 0");
        if (!r.ok()) return r.status();
        Result out;
        while (r->Next()) out.emplace_back(std::string(r->Str(0)), r->U64(1));
        return out;
      },
      std::move(done));
}

// --- messages ---

void MariaDbStore::AppendMessages(std::vector<rpc::ChatMessage> batch, Callback<Status> done) {
  if (batch.size() > options_.append_batch_max) {
    return Reject(
        Status::InvalidArgument(fmt::format("batch of {} messages is over append_batch_max {}",
                                            batch.size(), options_.append_batch_max)),
        std::move(done));
  }
  // Idempotent: a batch cut short by a lost connection is simply written again.
  RunOn<Status>(
      *append_pool_, Retry::kOnceOnLostConnection,
      [this, batch = std::move(batch)](MariaDbConnection& conn) {
        return conn.InTransaction(options_.deadlock_retries,
                                  [&] { return AppendBatch(conn, batch, options_); });
      },
      std::move(done));
}

void MariaDbStore::GetMessages(std::string conv, uint64_t after_seq, bool has_after,
                               uint64_t before_seq, uint32_t limit,
                               Callback<StatusOr<MessagePage>> done) {
  if (limit > options_.page_limit_max) {
    return Reject(Status::InvalidArgument("page limit is over page_limit_max"), std::move(done));
  }
  Run<StatusOr<MessagePage>>(
      Retry::kOnceOnLostConnection,
      [conv = std::move(conv), after_seq, has_after, before_seq,
       limit](MariaDbConnection& conn) -> StatusOr<MessagePage> {
        const bool backwards = before_seq > 0 || !has_after;
        SqlBuilder q(conn);
        q.Raw("SELECT ").Raw(kMessageColumns).Raw(" FROM messages WHERE conv = ").Str(conv);
        if (before_seq > 0) {
          q.Raw(" AND seq < ").Num(before_seq);
        } else if (has_after) {
          q.Raw(" AND seq > ").Num(after_seq);
        }
        // One row beyond the page tells whether more exist in that direction.
        q.Raw(backwards ? " ORDER BY seq DESC LIMIT " : " ORDER BY seq ASC LIMIT ")
            .Num(uint64_t{limit} + 1);
        auto r = conn.Query(q.str());
        if (!r.ok()) return r.status();
        MessagePage page;
        page.messages.reserve(std::min<uint32_t>(limit, 256));
        while (r->Next()) {
          if (page.messages.size() == limit) {
            page.has_more = true;
            break;
          }
          ReadMessage(*r, conv, page.messages.emplace_back());
        }
        if (backwards) std::reverse(page.messages.begin(), page.messages.end());
        return page;
      },
      std::move(done));
}

void MariaDbStore::FindSent(uint64_t from, std::string client_id,
                            Callback<StatusOr<SentKey>> done) {
  Run<StatusOr<SentKey>>(
      Retry::kOnceOnLostConnection,
      [from, client_id = std::move(client_id)](MariaDbConnection& conn) -> StatusOr<SentKey> {
        if (client_id.empty()) return Status::NotFound("no such sent message");
        SqlBuilder q(conn);
        q.Raw("SELECT msg_id, conv, seq, ts FROM messages WHERE from_user = ")
            .Num(from)
            .Raw(" AND client_id = ")
            .Str(client_id);
        auto r = conn.Query(q.str());
        if (!r.ok()) return r.status();
        if (!r->Next()) return Status::NotFound("no such sent message");
        return SentKey{from, client_id, r->U64(0), std::string(r->Str(1)), r->U64(2), r->I64(3)};
      },
      std::move(done));
}

void MariaDbStore::LoadRecentSent(int64_t since_ms, uint32_t limit,
                                  Callback<StatusOr<std::vector<SentKey>>> done) {
  Run<StatusOr<std::vector<SentKey>>>(
      Retry::kOnceOnLostConnection,
      [since_ms, limit](MariaDbConnection& conn) -> StatusOr<std::vector<SentKey>> {
        SqlBuilder q(conn);
        q.Raw("SELECT from_user, client_id, msg_id, conv, seq, ts FROM messages WHERE ts >= ")
            .Num(since_ms)
            .Raw(" AND client_id IS NOT NULL ORDER BY ts DESC, msg_id DESC LIMIT ")
            .Num(limit);
        auto r = conn.Query(q.str());
        if (!r.ok()) return r.status();
        std::vector<SentKey> out;
        while (r->Next()) {
          out.push_back(SentKey{r->U64(0), std::string(r->Str(1)), r->U64(2),
                                std::string(r->Str(3)), r->U64(4), r->I64(5)});
        }
        return out;
      },
      std::move(done));
}

void MariaDbStore::Ping(Callback<Status> done) {
  Run<Status>(
      Retry::kOnceOnLostConnection,
      [](MariaDbConnection& conn) -> Status {
        auto r = conn.Query("SELECT 1");
        return r.ok() ? Status::Ok() : r.status();
      },
      std::move(done));
}

}  // namespace parley::store

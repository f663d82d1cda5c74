#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "model/conversation.h"
#include "store/sqlite/sqlite_store_schema.h"

namespace parley::store {

using sqlite::SqliteDb;
using sqlite::Stmt;

namespace {

// Two readers: one slow page read does not hold up logins.
constexpr int kReaderThreads = 2;

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status Closed() { return Status::Unavailable("store is closed"); }

// Evaluates a StatusOr<Stmt> into `var`, returning its error.
#define PARLEY_PREPARE(var, db, sql) \
  auto var = (db).Prepare(sql);      \
  if (!var.ok()) return var.status()

UserRecord ReadUser(const Stmt& st) {
  UserRecord u;
  u.user_id = st.UInt(0);
  u.username = st.Text(1);
  u.password_hash = st.Text(2);
  u.created_at = st.Int(3);
  u.group_adds = st.Int(4) == 1 ? GroupAdds::kNobody : GroupAdds::kAnyone;
  return u;
}

StatusOr<rpc::Group> LoadGroup(SqliteDb& db, uint64_t group_id) {
  rpc::Group g;
  {
    PARLEY_PREPARE(st, db, "SELECT name, owner FROM groups WHERE group_id = ?1");
    st->BindU(1, group_id);
    int rc = st->Step();
    if (rc == SQLITE_DONE) return Status::NotFound("group not found");
    if (rc != SQLITE_ROW) return db.Error(rc, "groups");
    g.set_group_id(group_id);
    g.set_name(std::string(st->Text(0)));
    g.set_owner(st->UInt(1));
  }
  PARLEY_PREPARE(st, db,
                 "SELECT user_id FROM group_members WHERE group_id = ?1 ORDER BY join_order");
  st->BindU(1, group_id);
  int rc;
  while ((rc = st->Step()) == SQLITE_ROW) g.add_members(st->UInt(0));
  if (rc != SQLITE_DONE) return db.Error(rc, "group_members");
  return g;
}

Status GroupExists(SqliteDb& db, uint64_t group_id) {
  PARLEY_PREPARE(st, db, "SELECT 1 FROM groups WHERE group_id = ?1");
  st->BindU(1, group_id);
  int rc = st->Step();
  if (rc == SQLITE_DONE) return Status::NotFound("group not found");
  return rc == SQLITE_ROW ? Status::Ok() : db.Error(rc, "groups");
}

// May `user_id` join one more group under `rules`? `by_self`: it creates the
// group, so its GroupAdds setting does not apply.
Status CheckJoin(SqliteDb& db, uint64_t user_id, bool by_self, const MembershipRules& rules) {
  if (!by_self) {
    PARLEY_PREPARE(st, db, "SELECT group_adds FROM users WHERE user_id = ?1");
    st->BindU(1, user_id);
    int rc = st->Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db.Error(rc, "users");
    if (rc == SQLITE_ROW && st->Int(0) == static_cast<int>(GroupAdds::kNobody)) {
      return Status::PermissionDenied("user " + std::to_string(user_id) +
                                      " does not accept being added to groups");
    }
  }
  PARLEY_PREPARE(st, db, "SELECT COUNT(*) FROM group_members WHERE user_id = ?1");
  st->BindU(1, user_id);
  int rc = st->Step();
  if (rc != SQLITE_ROW) return db.Error(rc, "group_members");
  if (st->UInt(0) >= rules.groups_per_user_max) {
    return Status::InvalidArgument("user " + std::to_string(user_id) + " is in " +
                                   std::to_string(rules.groups_per_user_max) +
                                   " groups, the most allowed");
  }
  return Status::Ok();
}

// Makes `user_id` the newest member of the group (no-op when a member). The
// read cursor starts at the conversation's last persisted seq.
Status InsertMember(SqliteDb& db, uint64_t group_id, const std::string& conv, uint64_t user_id,
                    int64_t now) {
  {
    PARLEY_PREPARE(st, db,
                   "INSERT OR IGNORE INTO group_members(group_id, user_id, join_order, joined_at) "
                   "VALUES(?1, ?2, (SELECT COALESCE(MAX(join_order), 0) + 1 FROM group_members "
                   "WHERE group_id = ?1), ?3)");
    st->BindU(1, group_id).BindU(2, user_id).Bind(3, now);
    Status s = db.Done(st->Step(), "group_members");
    if (!s.ok()) return s;
    if (db.Changes() == 0) return Status::Ok();
  }
  PARLEY_PREPARE(
      st, db,
      "INSERT INTO user_convs(user_id, conv, read_seq, peer, group_id) "
      "VALUES(?1, ?2, COALESCE((SELECT last_seq FROM conversations WHERE conv = ?2), 0), "
      "0, ?3) ON CONFLICT DO NOTHING");
  st->BindU(1, user_id).BindText(2, conv).BindU(3, group_id);
  return db.Done(st->Step(), "user_convs");
}

void ReadMessage(const Stmt& st, const std::string& conv, rpc::ChatMessage& m) {
  m.set_conv(conv);
  m.set_seq(st.UInt(0));
  m.set_msg_id(st.UInt(1));
  m.set_from(st.UInt(2));
  m.set_to_user(st.UInt(3));
  m.set_to_group(st.UInt(4));
  m.set_body(std::string(st.Text(5)));
  m.set_ts(st.Int(6));
  if (!st.IsNull(7)) m.set_client_id(std::string(st.Text(7)));
}

// Called when INSERT OR IGNORE skipped `m`: a duplicate (msg_id or sender's
// client id already stored) is expected; anything else is a seq clash.
void ReportSkipped(SqliteDb& db, const rpc::ChatMessage& m) {
  auto st = db.Prepare(
      "SELECT 1 FROM messages WHERE msg_id = ?1 UNION ALL "
      "SELECT 1 FROM messages WHERE from_user = ?2 AND client_id = ?3");
  if (!st.ok()) return;
  st->BindU(1, m.msg_id()).BindU(2, m.from());
  if (m.client_id().empty()) {
    st->BindNull(3);
  } else {
    st->BindText(3, m.client_id());
  }
  if (st->Step() != SQLITE_ROW) {
    spdlog::error("event=store_seq_conflict conv={} seq={} msg_id={}", m.conv(), m.seq(),
                  m.msg_id());
  }
}

Status AppendBatch(SqliteDb& db, const std::vector<rpc::ChatMessage>& batch) {
  struct ConvAgg {
    uint64_t last_seq = 0;
    int64_t last_ts = 0;
    // Each sender has read the conversation up to its own latest message.
    std::vector<std::pair<uint64_t, uint64_t>> senders;  // (user, seq)
  };
  std::unordered_map<std::string_view, ConvAgg> convs;
  {
    PARLEY_PREPARE(
        ins, db,
        "INSERT OR IGNORE INTO messages(conv, seq, msg_id, from_user, to_user, to_group, "
        "body, ts, client_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    for (const auto& m : batch) {
      if (!model::ConvId::Parse(m.conv()) || m.seq() == 0) {
        spdlog::error("event=store_bad_message conv={} seq={} msg_id={}", m.conv(), m.seq(),
                      m.msg_id());
        continue;
      }
      ins->BindText(1, m.conv()).BindU(2, m.seq()).BindU(3, m.msg_id()).BindU(4, m.from());
      ins->BindU(5, m.to_user()).BindU(6, m.to_group()).BindText(7, m.body()).Bind(8, m.ts());
      if (m.client_id().empty()) {
        ins->BindNull(9);
      } else {
        ins->BindText(9, m.client_id());
      }
      Status s = db.Done(ins->Step(), "messages");
      ins->Reset();
      if (!s.ok()) return s;
      if (db.Changes() == 0) ReportSkipped(db, m);
      auto& agg = convs[m.conv()];
      agg.last_seq = std::max(agg.last_seq, m.seq());
      agg.last_ts = std::max(agg.last_ts, m.ts());
      auto sender = std::find_if(agg.senders.begin(), agg.senders.end(),
                                 [&](const auto& p) { return p.first == m.from(); });
      if (sender == agg.senders.end()) {
        agg.senders.emplace_back(m.from(), m.seq());
      } else {
        sender->second = std::max(sender->second, m.seq());
      }
    }
  }
  for (const auto& [conv, agg] : convs) {
    {
      PARLEY_PREPARE(st, db,
                     "INSERT INTO conversations(conv, last_seq, last_ts, active_ts) "
                     "VALUES(?1, ?2, ?3, ?3) ON CONFLICT(conv) DO UPDATE SET "
                     "last_seq = max(last_seq, excluded.last_seq), "
                     "last_ts = max(last_ts, excluded.last_ts), "
                     "active_ts = max(active_ts, excluded.active_ts)");
      st->BindText(1, conv).BindU(2, agg.last_seq).Bind(3, agg.last_ts);
      Status s = db.Done(st->Step(), "conversations");
      if (!s.ok()) return s;
    }
    auto id = model::ConvId::Parse(conv);
    if (id->is_group()) {
      PARLEY_PREPARE(st, db,
                     "UPDATE user_convs SET read_seq = max(read_seq, ?3) "
                     "WHERE user_id = ?1 AND conv = ?2");
      for (const auto& [user, seq] : agg.senders) {
        st->BindU(1, user).BindText(2, conv).BindU(3, seq);
        Status s = db.Done(st->Step(), "user_convs");
        st->Reset();
        if (!s.ok()) return s;
      }
      continue;
    }
    // Both participants' entries, created with the conversation; a sender's
    // read cursor moves to its latest message, in the same statement.
    PARLEY_PREPARE(st, db,
                   "INSERT INTO user_convs(user_id, conv, read_seq, peer, group_id) "
                   "VALUES(?1, ?2, ?4, ?3, 0) ON CONFLICT(user_id, conv) DO UPDATE "
                   "SET read_seq = excluded.read_seq WHERE excluded.read_seq > read_seq");
    for (uint64_t user : {id->a, id->b}) {
      uint64_t read_seq = 0;
      for (const auto& [sender, seq] : agg.senders) {
        if (sender == user) read_seq = seq;
      }
      st->BindU(1, user).BindText(2, conv).BindU(3, id->PeerOf(user)).BindU(4, read_seq);
      Status s = db.Done(st->Step(), "user_convs");
      st->Reset();
      if (!s.ok()) return s;
      if (id->a == id->b) break;
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                         const StorageOptions& options) {
  auto db = SqliteDb::Open(path, SqliteDb::Mode::kWriter);
  if (!db.ok()) return db.status();
  Status s = MigrateStoreSchema(**db);
  if (!s.ok()) return s;
  auto readers = sqlite::SqliteReaderPool::Open(path, kReaderThreads);
  if (!readers.ok()) return readers.status();
  auto writer = std::make_unique<sqlite::SqliteWriter>(
      std::move(db).value(), options.commit_batch_max, nullptr, /*maintenance_interval_ms=*/200,
      std::chrono::milliseconds(options.store_commit_linger_ms));
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(writer), std::move(readers).value()));
}

SqliteStore::SqliteStore(std::unique_ptr<sqlite::SqliteWriter> writer,
                         std::unique_ptr<sqlite::SqliteReaderPool> readers)
    : writer_(std::move(writer)), readers_(std::move(readers)) {}

SqliteStore::~SqliteStore() { Close(); }

void SqliteStore::Close() {
  writer_->Close();
  readers_->Close();
}

template <typename T, typename Fn>
void SqliteStore::Read(Fn fn, Callback<StatusOr<T>> done) {
  readers_->Submit([fn = std::move(fn), done = std::move(done)](SqliteDb* db) {
    if (db == nullptr) {
      done(Closed());
      return;
    }
    done(fn(*db));
  });
}

// --- accounts ---

void SqliteStore::CreateUser(std::string username, std::string password_hash, int64_t now,
                             Callback<StatusOr<UserRecord>> done) {
  writer_->Submit(sqlite::MakeOp<UserRecord>(
      [username = std::move(username), password_hash = std::move(password_hash),
       now](SqliteDb& db) -> StatusOr<UserRecord> {
        std::string lower = AsciiLower(username);
        PARLEY_PREPARE(st, db,
                       "INSERT INTO users(username, username_lower, password_hash, created_at) "
                       "VALUES(?1, ?2, ?3, ?4)");
        st->BindText(1, username).BindText(2, lower).BindText(3, password_hash).Bind(4, now);
        Status s = db.Done(st->Step(), "users");
        if (s.IsAlreadyExists()) return Status::AlreadyExists("username taken");
        if (!s.ok()) return s;
        return UserRecord{static_cast<uint64_t>(db.LastInsertRowid()), username, password_hash,
                          now};
      },
      std::move(done)));
}

void SqliteStore::FindUserByName(std::string username, Callback<StatusOr<UserRecord>> done) {
  Read<UserRecord>(
      [lower = AsciiLower(username)](SqliteDb& db) -> StatusOr<UserRecord> {
        PARLEY_PREPARE(st, db,
                       "SELECT user_id, username, password_hash, created_at, group_adds FROM users "
                       "WHERE username_lower = ?1");
        st->BindText(1, lower);
        int rc = st->Step();
        if (rc == SQLITE_ROW) return ReadUser(*st);
        if (rc == SQLITE_DONE) return Status::NotFound("user not found");
        return db.Error(rc, "users");
      },
      std::move(done));
}

void SqliteStore::FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) {
  Read<UserRecord>(
      [user_id](SqliteDb& db) -> StatusOr<UserRecord> {
        PARLEY_PREPARE(st, db,
                       "SELECT user_id, username, password_hash, created_at, group_adds FROM users "
                       "WHERE user_id = ?1");
        st->BindU(1, user_id);
        int rc = st->Step();
        if (rc == SQLITE_ROW) return ReadUser(*st);
        if (rc == SQLITE_DONE) return Status::NotFound("user not found");
        return db.Error(rc, "users");
      },
      std::move(done));
}

void SqliteStore::CreateSession(SessionRecord session, Callback<Status> done) {
  writer_->Submit(sqlite::MakeStatusOp(
      [session = std::move(session)](SqliteDb& db) -> Status {
        PARLEY_PREPARE(st, db,
                       "INSERT INTO sessions(token_hash, user_id, expires_at) VALUES(?1, ?2, ?3)");
        st->BindText(1, session.token_hash).BindU(2, session.user_id).Bind(3, session.expires_at);
        Status s = db.Done(st->Step(), "sessions");
        if (s.IsAlreadyExists()) return Status::AlreadyExists("session exists");
        return s;
      },
      std::move(done)));
}

void SqliteStore::FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) {
  Read<SessionRecord>(
      [token_hash = std::move(token_hash)](SqliteDb& db) -> StatusOr<SessionRecord> {
        PARLEY_PREPARE(st, db, "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?1");
        st->BindText(1, token_hash);
        int rc = st->Step();
        if (rc == SQLITE_DONE) return Status::NotFound("session not found");
        if (rc != SQLITE_ROW) return db.Error(rc, "sessions");
        return SessionRecord{token_hash, st->UInt(0), st->Int(1)};
      },
      std::move(done));
}

void SqliteStore::SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) {
  writer_->Submit(sqlite::MakeStatusOp(
      [user_id, who](SqliteDb& db) -> Status {
        PARLEY_PREPARE(st, db, "UPDATE users SET group_adds = ?2 WHERE user_id = ?1");
        st->BindU(1, user_id).Bind(2, static_cast<int64_t>(who));
        Status s = db.Done(st->Step(), "users");
        if (!s.ok()) return s;
        return db.Changes() == 0 ? Status::NotFound("user not found") : Status::Ok();
      },
      std::move(done)));
}

void SqliteStore::DeleteSession(std::string token_hash, Callback<Status> done) {
  writer_->Submit(sqlite::MakeStatusOp(
      [token_hash = std::move(token_hash)](SqliteDb& db) -> Status {
        PARLEY_PREPARE(st, db, "DELETE FROM sessions WHERE token_hash = ?1");
        st->BindText(1, token_hash);
        return db.Done(st->Step(), "sessions");
      },
      std::move(done)));
}

void SqliteStore::PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                                       Callback<StatusOr<uint64_t>> done) {
  writer_->Submit(sqlite::MakeOp<uint64_t>(
      [now, max_rows](SqliteDb& db) -> StatusOr<uint64_t> {
        PARLEY_PREPARE(st, db,
                       "DELETE FROM sessions WHERE token_hash IN "
                       "(SELECT token_hash FROM sessions WHERE expires_at <= ?1 LIMIT ?2)");
        st->Bind(1, now).Bind(2, static_cast<int64_t>(max_rows));
        if (Status s = db.Done(st->Step(), "sessions"); !s.ok()) return s;
        return static_cast<uint64_t>(db.Changes());
      },
      std::move(done)));
}

// --- groups ---

void SqliteStore::CreateGroup(std::string name, uint64_t owner, std::vector<uint64_t> members,
                              int64_t now, MembershipRules rules,
                              Callback<StatusOr<rpc::Group>> done) {
  writer_->Submit(sqlite::MakeOp<rpc::Group>(
      [name = std::move(name), owner, members = std::move(members), now,
       rules](SqliteDb& db) -> StatusOr<rpc::Group> {
        // The owner first: ownership passes in order of joining.
        std::vector<uint64_t> joining{owner};
        std::unordered_set<uint64_t> seen{owner};
        for (uint64_t m : members) {
          if (seen.insert(m).second) joining.push_back(m);
        }
        if (joining.size() > rules.group_members_max) {
          return Status::InvalidArgument("a group has at most " +
                                         std::to_string(rules.group_members_max) + " members");
        }
        for (uint64_t user : joining) {
          if (Status s = CheckJoin(db, user, user == owner, rules); !s.ok()) return s;
        }
        {
          PARLEY_PREPARE(st, db, "INSERT INTO groups(name, owner, created_at) VALUES(?1, ?2, ?3)");
          st->BindText(1, name).BindU(2, owner).Bind(3, now);
          Status s = db.Done(st->Step(), "groups");
          if (!s.ok()) return s;
        }
        const auto group_id = static_cast<uint64_t>(db.LastInsertRowid());
        const std::string conv = model::ConvId::Group(group_id).ToString();
        {
          // A conversation row from the start, so that the new group sorts
          // by its creation time in conversation lists.
          PARLEY_PREPARE(st, db,
                         "INSERT INTO conversations(conv, last_seq, last_ts, active_ts) "
                         "VALUES(?1, 0, 0, ?2) ON CONFLICT(conv) DO NOTHING");
          st->BindText(1, conv).Bind(2, now);
          Status s = db.Done(st->Step(), "conversations");
          if (!s.ok()) return s;
        }
        rpc::Group g;
        g.set_group_id(group_id);
        g.set_name(name);
        g.set_owner(owner);
        for (uint64_t user : joining) {
          g.add_members(user);
          if (Status s = InsertMember(db, group_id, conv, user, now); !s.ok()) return s;
        }
        return g;
      },
      std::move(done)));
}

void SqliteStore::GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) {
  Read<rpc::Group>(
      [group_id](SqliteDb& db) -> StatusOr<rpc::Group> {
        // One read transaction: the group and its members as of one moment.
        Status s = db.Run("BEGIN");
        if (!s.ok()) return s;
        auto g = LoadGroup(db, group_id);
        db.Run("COMMIT");
        return g;
      },
      std::move(done));
}

void SqliteStore::AddGroupMember(uint64_t group_id, uint64_t user_id, int64_t now,
                                 MembershipRules rules, Callback<Status> done) {
  // The one writer runs ops one at a time: the counts read here hold until
  // the insert below.
  writer_->Submit(sqlite::MakeStatusOp(
      [group_id, user_id, now, rules](SqliteDb& db) -> Status {
        Status s = GroupExists(db, group_id);
        if (!s.ok()) return s;
        {
          PARLEY_PREPARE(
              st, db,
              "SELECT (SELECT COUNT(*) FROM group_members WHERE group_id = ?1), "
              "EXISTS(SELECT 1 FROM group_members WHERE group_id = ?1 AND user_id = ?2)");
          st->BindU(1, group_id).BindU(2, user_id);
          int rc = st->Step();
          if (rc != SQLITE_ROW) return db.Error(rc, "group_members");
          if (st->Int(1) != 0) return Status::Ok();  // already a member
          if (st->UInt(0) >= rules.group_members_max) {
            return Status::InvalidArgument("the group is full");
          }
        }
        s = CheckJoin(db, user_id, /*by_self=*/false, rules);
        if (!s.ok()) return s;
        return InsertMember(db, group_id, model::ConvId::Group(group_id).ToString(), user_id, now);
      },
      std::move(done)));
}

void SqliteStore::RemoveGroupMember(uint64_t group_id, uint64_t user_id,
                                    Callback<StatusOr<rpc::Group>> done) {
  writer_->Submit(sqlite::MakeOp<rpc::Group>(
      [group_id, user_id](SqliteDb& db) -> StatusOr<rpc::Group> {
        uint64_t owner = 0;
        {
          PARLEY_PREPARE(st, db, "SELECT owner FROM groups WHERE group_id = ?1");
          st->BindU(1, group_id);
          int rc = st->Step();
          if (rc == SQLITE_DONE) return Status::NotFound("group not found");
          if (rc != SQLITE_ROW) return db.Error(rc, "groups");
          owner = st->UInt(0);
        }
        {
          PARLEY_PREPARE(st, db, "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2");
          st->BindU(1, group_id).BindU(2, user_id);
          Status s = db.Done(st->Step(), "group_members");
          if (!s.ok()) return s;
          if (db.Changes() == 0) return Status::NotFound("not a member of the group");
        }
        {
          PARLEY_PREPARE(st, db, "DELETE FROM user_convs WHERE user_id = ?1 AND conv = ?2");
          const std::string conv = model::ConvId::Group(group_id).ToString();
          st->BindU(1, user_id).BindText(2, conv);
          Status s = db.Done(st->Step(), "user_convs");
          if (!s.ok()) return s;
        }
        if (owner == user_id) {
          PARLEY_PREPARE(st, db,
                         "UPDATE groups SET owner = COALESCE((SELECT user_id FROM group_members "
                         "WHERE group_id = ?1 ORDER BY join_order LIMIT 1), 0) "
                         "WHERE group_id = ?1");
          st->BindU(1, group_id);
          Status s = db.Done(st->Step(), "groups");
          if (!s.ok()) return s;
        }
        return LoadGroup(db, group_id);
      },
      std::move(done)));
}

// --- conversations ---

void SqliteStore::ListConversations(uint64_t user_id,
                                    Callback<StatusOr<std::vector<rpc::ConvState>>> done) {
  Read<std::vector<rpc::ConvState>>(
      [user_id](SqliteDb& db) -> StatusOr<std::vector<rpc::ConvState>> {
        PARLEY_PREPARE(st, db,
                       "SELECT uc.conv, COALESCE(c.last_seq, 0), uc.read_seq, uc.peer, "
                       "uc.group_id, COALESCE(c.last_ts, 0) "
                       "FROM user_convs uc LEFT JOIN conversations c ON c.conv = uc.conv "
                       "WHERE uc.user_id = ?1 "
                       "ORDER BY COALESCE(c.active_ts, 0) DESC, uc.conv");
        st->BindU(1, user_id);
        std::vector<rpc::ConvState> out;
        int rc;
        while ((rc = st->Step()) == SQLITE_ROW) {
          auto& c = out.emplace_back();
          c.set_conv(std::string(st->Text(0)));
          c.set_last_seq(st->UInt(1));
          c.set_read_seq(st->UInt(2));
          c.set_peer(st->UInt(3));
          c.set_group_id(st->UInt(4));
          c.set_last_ts(st->Int(5));
        }
        if (rc != SQLITE_DONE) return db.Error(rc, "user_convs");
        return out;
      },
      std::move(done));
}

void SqliteStore::SetReadSeq(uint64_t user_id, std::string conv, uint64_t seq,
                             Callback<StatusOr<uint64_t>> done) {
  writer_->Submit(sqlite::MakeOp<uint64_t>(
      [user_id, conv = std::move(conv), seq](SqliteDb& db) -> StatusOr<uint64_t> {
        auto id = model::ConvId::Parse(conv);
        if (!id) return Status::InvalidArgument("bad conversation id");
        {
          PARLEY_PREPARE(st, db,
                         "UPDATE user_convs SET read_seq = max(read_seq, ?3) "
                         "WHERE user_id = ?1 AND conv = ?2 RETURNING read_seq");
          st->BindU(1, user_id).BindText(2, conv).BindU(3, seq);
          int rc = st->Step();
          if (rc == SQLITE_ROW) {
            uint64_t cursor = st->UInt(0);
            Status s = db.Done(st->Step(), "user_convs");
            if (!s.ok()) return s;
            return cursor;
          }
          if (rc != SQLITE_DONE) return db.Error(rc, "user_convs");
        }
        // No entry yet: a private conversation whose messages are not
        // persisted yet still takes the user's cursor.
        if (!id->HasParticipant(user_id)) return Status::NotFound("conversation not found");
        PARLEY_PREPARE(st, db,
                       "INSERT INTO user_convs(user_id, conv, read_seq, peer, group_id) "
                       "VALUES(?1, ?2, ?3, ?4, 0)");
        st->BindU(1, user_id).BindText(2, conv).BindU(3, seq).BindU(4, id->PeerOf(user_id));
        Status s = db.Done(st->Step(), "user_convs");
        if (!s.ok()) return s;
        return seq;
      },
      std::move(done)));
}

void SqliteStore::LoadLastSeqs(
    Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) {
  using Result = std::vector<std::pair<std::string, uint64_t>>;
  Read<Result>(
      [](SqliteDb& db) -> StatusOr<Result> {
        PARLEY_PREPARE(st, db, "SELECT conv, last_seq FROM conversations WHERE last_seq > 0");
        Result out;
        int rc;
        while ((rc = st->Step()) == SQLITE_ROW) out.emplace_back(st->Text(0), st->UInt(1));
        if (rc != SQLITE_DONE) return db.Error(rc, "conversations");
        return out;
      },
      std::move(done));
}

// --- messages ---

void SqliteStore::AppendMessages(std::vector<rpc::ChatMessage> batch, Callback<Status> done) {
  class AppendOp final : public sqlite::SqliteWriter::Op {
   public:
    AppendOp(std::vector<rpc::ChatMessage> b, Callback<Status> d)
        : batch_(std::move(b)), done_(std::move(d)) {}
    size_t Weight() const override { return std::max<size_t>(batch_.size(), 1); }
    // The persist consumer's: the log holds these durably, nobody waits.
    bool Urgent() const override { return false; }
    Status Apply(SqliteDb& db) override { return AppendBatch(db, batch_); }
    void Finish(Status status) override { done_(std::move(status)); }

   private:
    std::vector<rpc::ChatMessage> batch_;
    Callback<Status> done_;
  };
  writer_->Submit(std::make_unique<AppendOp>(std::move(batch), std::move(done)));
}

void SqliteStore::GetMessages(std::string conv, uint64_t after_seq, bool has_after,
                              uint64_t before_seq, uint32_t limit,
                              Callback<StatusOr<MessagePage>> done) {
  Read<MessagePage>(
      [conv = std::move(conv), after_seq, has_after, before_seq,
       limit](SqliteDb& db) -> StatusOr<MessagePage> {
        static constexpr const char* kBefore =
            "SELECT seq, msg_id, from_user, to_user, to_group, body, ts, client_id FROM messages "
            "WHERE conv = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";
        static constexpr const char* kAfter =
            "SELECT seq, msg_id, from_user, to_user, to_group, body, ts, client_id FROM messages "
            "WHERE conv = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3";
        static constexpr const char* kNewest =
            "SELECT seq, msg_id, from_user, to_user, to_group, body, ts, client_id FROM messages "
            "WHERE conv = ?1 AND seq > ?2 ORDER BY seq DESC LIMIT ?3";
        const bool backwards = before_seq > 0 || !has_after;
        const char* sql = before_seq > 0 ? kBefore : has_after ? kAfter : kNewest;
        PARLEY_PREPARE(st, db, sql);
        // One row beyond the page tells whether more exist in that direction.
        st->BindText(1, conv)
            .BindU(2, before_seq > 0 ? before_seq
                      : has_after    ? after_seq
                                     : 0)
            .Bind(3, static_cast<int64_t>(limit) + 1);
        MessagePage page;
        page.messages.reserve(std::min<uint32_t>(limit, 256));
        int rc;
        while ((rc = st->Step()) == SQLITE_ROW) {
          if (page.messages.size() == limit) {
            page.has_more = true;
            break;
          }
          ReadMessage(*st, conv, page.messages.emplace_back());
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db.Error(rc, "messages");
        if (backwards) std::reverse(page.messages.begin(), page.messages.end());
        return page;
      },
      std::move(done));
}

void SqliteStore::FindSent(uint64_t from, std::string client_id, Callback<StatusOr<SentKey>> done) {
  Read<SentKey>(
      [from, client_id = std::move(client_id)](SqliteDb& db) -> StatusOr<SentKey> {
        PARLEY_PREPARE(st, db,
                       "SELECT msg_id, conv, seq, ts FROM messages "
                       "WHERE from_user = ?1 AND client_id = ?2");
        st->BindU(1, from).BindText(2, client_id);
        int rc = st->Step();
        if (rc == SQLITE_DONE) return Status::NotFound("no such sent message");
        if (rc != SQLITE_ROW) return db.Error(rc, "messages");
        return SentKey{from,        client_id, st->UInt(0), std::string(st->Text(1)),
                       st->UInt(2), st->Int(3)};
      },
      std::move(done));
}

void SqliteStore::LoadRecentSent(int64_t since_ms, uint32_t limit,
                                 Callback<StatusOr<std::vector<SentKey>>> done) {
  Read<std::vector<SentKey>>(
      [since_ms, limit](SqliteDb& db) -> StatusOr<std::vector<SentKey>> {
        PARLEY_PREPARE(st, db,
                       "SELECT from_user, client_id, msg_id, conv, seq, ts FROM messages "
                       "WHERE ts >= ?1 AND client_id IS NOT NULL ORDER BY ts DESC LIMIT ?2");
        st->Bind(1, since_ms).Bind(2, limit);
        std::vector<SentKey> out;
        int rc;
        while ((rc = st->Step()) == SQLITE_ROW) {
          out.push_back(SentKey{st->UInt(0), std::string(st->Text(1)), st->UInt(2),
                                std::string(st->Text(3)), st->UInt(4), st->Int(5)});
        }
        if (rc != SQLITE_DONE) return db.Error(rc, "messages");
        return out;
      },
      std::move(done));
}

void SqliteStore::Ping(Callback<Status> done) {
  readers_->Submit([done = std::move(done)](SqliteDb* db) {
    if (db == nullptr) {
      done(Closed());
      return;
    }
    auto st = db->Prepare("SELECT 1");
    if (!st.ok()) {
      done(st.status());
      return;
    }
    int rc = st->Step();
    done(rc == SQLITE_ROW ? Status::Ok() : db->Error(rc, "ping"));
  });
}

}  // namespace parley::store

// MariaDbStore beyond the Store contract: idempotent batches, migrations,
// outages of the server, hostile input, limits. Against a real mariadbd.
#include "store/mariadb/mariadb_store.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "store/mariadb/mariadb_migrations.h"
#include "store/mariadb/testing/mariadb_server.h"
#include "store/testing/blocking_store.h"
#include "store/testing/chat_messages.h"
#include "support/test_util.h"

namespace parley::store {
namespace {

// The status of a result, by value: ASSERT_OK(f().status()) would bind a
// reference into f()'s temporary result, gone by the time it is printed.
template <typename T>
Status StatusOf(const StatusOr<T>& r) {
  return r.status();
}

using parley::testing::MariaDbServer;
using Clock = std::chrono::steady_clock;

MariaDbStoreOptions Migrating() {
  MariaDbStoreOptions o;
  o.migrate = true;
  return o;
}

// The database name at the end of a DSN.
std::string DatabaseOf(const std::string& dsn) { return dsn.substr(dsn.rfind('/') + 1); }

// Makes `call(cb)`, which calls the store with `cb`, and returns once the
// worker that answers it is held inside `cb`, where it stays until `release`.
template <typename CallWith>
void HoldWorker(CallWith call, std::shared_future<void> release) {
  // Shared: the worker may still be inside set_value when this returns.
  auto held = std::make_shared<std::promise<void>>();
  std::future<void> ready = held->get_future();
  call([held, release](Status) {
    held->set_value();
    release.wait();
  });
  ready.wait();
}

// A migrated store on a new database of the shared server.
class MariaDbStoreTest : public ::testing::Test, protected BlockingStore {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Reopen(Migrating())); }

  void Reopen(const MariaDbStoreOptions& options) {
    store_.reset();
    auto s = MariaDbStore::Open(dsn_, options);
    ASSERT_OK(StatusOf(s));
    store_ = std::move(s).value();
    Bind(store_.get());
  }
  // One number from the store's database, read as root.
  int64_t Count(const std::string& sql_from) {
    return std::stoll(server_.RootQuery("SELECT COUNT(*) FROM " + db_ + "." + sql_from));
  }

  MariaDbServer& server_ = MariaDbServer::Shared();
  std::string dsn_ = server_.CreateDatabase("store");
  std::string db_ = DatabaseOf(dsn_);
  std::unique_ptr<MariaDbStore> store_;
};

// --- idempotent batches ---

TEST_F(MariaDbStoreTest, ARedeliveredBatchIsStoredOnce) {
  std::vector<rpc::ChatMessage> batch;
  for (uint64_t s = 1; s <= 5; ++s) batch.push_back(PrivateMsg(100 + s, 1, 2, s, 1000 + s));
  ASSERT_OK(Append(batch));
  ASSERT_OK(Append(batch));  // the persist consumer crashed before XACK
  EXPECT_EQ(Count("messages"), 5);
  EXPECT_EQ(Seqs("p:1:2"), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(Count("user_convs"), 2);
  auto convs = Convs(2);
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].last_seq(), 5u);
  EXPECT_EQ(convs[0].last_ts(), 1005);
  // The sender has read its own messages, the recipient nothing.
  EXPECT_EQ(Convs(1)[0].read_seq(), 5u);
  EXPECT_EQ(convs[0].read_seq(), 0u);
}

TEST_F(MariaDbStoreTest, OverlappingBatchesStoreEachRowOnce) {
  auto g = CreateGroup("g", 1, {2, 3}, 10);
  ASSERT_OK(StatusOf(g));
  const uint64_t gid = g->group_id();
  std::vector<rpc::ChatMessage> first, second;
  for (uint64_t s = 1; s <= 6; ++s) {
    first.push_back(GroupMsg(s, gid, s, 1 + s % 3, 100 + s, fmt::format("k{}", s)));
  }
  for (uint64_t s = 4; s <= 10; ++s) {
    second.push_back(GroupMsg(s, gid, s, 1 + s % 3, 100 + s, fmt::format("k{}", s)));
  }
  second.push_back(PrivateMsg(50, 1, 2, 1, 120));
  ASSERT_OK(Append(first));
  ASSERT_OK(Append(second));
  ASSERT_OK(Append(first));  // and the first once more, after the second
  const std::string conv = model::ConvId::Group(gid).ToString();
  EXPECT_EQ(Seqs(conv), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(Count("messages"), 11);
  EXPECT_EQ(Count("messages WHERE client_id = 'k5'"), 1);
  auto convs = Convs(3);
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].last_seq(), 10u);
  EXPECT_EQ(convs[0].last_ts(), 110);
  EXPECT_EQ(convs[0].read_seq(), 8u);  // user 3 sent seq 2, 5, 8
  // The redelivery did not move the conversation back.
  auto seqs = LoadLastSeqs();
  ASSERT_OK(StatusOf(seqs));
  EXPECT_EQ(seqs->size(), 2u);
}

TEST_F(MariaDbStoreTest, ALargeBatchIsSplitIntoStatementsOfOneTransaction) {
  MariaDbStoreOptions small = Migrating();
  small.append_rows_per_statement = 3;
  small.append_statement_bytes_max = 64 << 10;
  ASSERT_NO_FATAL_FAILURE(Reopen(small));
  std::vector<rpc::ChatMessage> batch;
  for (uint64_t s = 1; s <= 10; ++s) batch.push_back(PrivateMsg(s, 1, 2, s, s));
  // Rows of ~30 KB: the byte bound splits too.
  batch[4].set_body(std::string(30'000, 'x'));
  batch[5].set_body(std::string(30'000, 'y'));
  ASSERT_OK(Append(batch));
  EXPECT_EQ(Seqs("p:1:2").size(), 10u);
  EXPECT_EQ(Messages("p:1:2")[5].body(), std::string(30'000, 'y'));

  // A bad row in the last statement rolls back the statements before it.
  std::vector<rpc::ChatMessage> bad;
  for (uint64_t s = 11; s <= 20; ++s) bad.push_back(PrivateMsg(s, 1, 2, s, s));
  bad.back().set_client_id(std::string(200, 'c'));  // over the column's 128
  EXPECT_EQ(Append(bad).code(), Code::kInvalidArgument);
  EXPECT_EQ(Seqs("p:1:2").size(), 10u);
  EXPECT_EQ(Convs(1)[0].last_seq(), 10u);
}

TEST_F(MariaDbStoreTest, BatchesOverTheLimitAreRefused) {
  MariaDbStoreOptions small = Migrating();
  small.append_batch_max = 2;
  ASSERT_NO_FATAL_FAILURE(Reopen(small));
  EXPECT_EQ(
      Append({PrivateMsg(1, 1, 2, 1, 1), PrivateMsg(2, 1, 2, 2, 2), PrivateMsg(3, 1, 2, 3, 3)})
          .code(),
      Code::kInvalidArgument);
  EXPECT_OK(Append({PrivateMsg(1, 1, 2, 1, 1), PrivateMsg(2, 1, 2, 2, 2)}));
  EXPECT_OK(Append({}));
}

// --- hostile input ---

TEST_F(MariaDbStoreTest, InjectionAttemptsAreStoredVerbatim) {
  const std::vector<std::string> hostile = {
      "x'; DROP TABLE users; --",
      "Robert'); DROP TABLE messages;--",
      "back\\slash\\'quote",
      "\" OR \"1\"=\"1",
      "%_%",
      std::string("nul\0byte", 8),
      "\x1a\r\n\t end",
      "\xF0\x9F\x98\x80 emoji \xE2\x80\x94 dash",
  };
  for (const auto& name : hostile) {
    auto u = CreateUser(name);
    ASSERT_OK(StatusOf(u));
    auto found = FindUserByName(name);
    ASSERT_OK(StatusOf(found));
    EXPECT_EQ(found->username, name);
    EXPECT_EQ(found->password_hash, "hash-" + name);
    ASSERT_OK(CreateSession(SessionRecord{name, u->user_id, 1}));
    auto s = FindSession(name);
    ASSERT_OK(StatusOf(s));
    EXPECT_EQ(s->user_id, u->user_id);
  }
  // A LIKE wildcard is a character like any other.
  EXPECT_TRUE(FindUserByName("%").status().IsNotFound());
  EXPECT_TRUE(FindUserByName("x' OR '1'='1").status().IsNotFound());

  std::vector<rpc::ChatMessage> batch;
  for (size_t i = 0; i < hostile.size(); ++i) {
    auto m = PrivateMsg(i + 1, 1, 2, i + 1, 10);
    m.set_body(hostile[i]);
    batch.push_back(m);
  }
  ASSERT_OK(Append(batch));
  auto stored = Messages("p:1:2");
  ASSERT_EQ(stored.size(), hostile.size());
  for (size_t i = 0; i < hostile.size(); ++i) EXPECT_EQ(stored[i].body(), hostile[i]);
  auto g = CreateGroup(hostile[0], 1, {2}, 5);
  ASSERT_OK(StatusOf(g));
  EXPECT_EQ(GetGroup(g->group_id())->name(), hostile[0]);
  // Nothing was dropped.
  EXPECT_EQ(Count("users"), static_cast<int64_t>(hostile.size()));
  EXPECT_EQ(Count("messages"), static_cast<int64_t>(hostile.size()));
  // A conversation id that is not one is refused before any SQL.
  EXPECT_EQ(SetReadSeq(1, "p:1:2' OR 1=1 --", 5).status().code(), Code::kInvalidArgument);
}

TEST_F(MariaDbStoreTest, ValuesTooLongForTheirColumnAreInvalid) {
  EXPECT_EQ(CreateUser(std::string(256, 'a')).status().code(), Code::kInvalidArgument);
  EXPECT_OK(StatusOf(CreateUser(std::string(255, 'a'))));
  auto page = parley::testing::Wait<StatusOr<MessagePage>>(
      [&](auto cb) { store_->GetMessages("p:1:2", 0, false, 0, 10'001, cb); });
  EXPECT_EQ(page.status().code(), Code::kInvalidArgument);
}

// --- migrations ---

TEST(MariaDbMigrationsTest, EmbeddedMigrationsRunFromOneWithoutGaps) {
  auto all = MariaDbMigrations();
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i + 1));
    EXPECT_FALSE(all[i].sql.empty());
  }
  EXPECT_EQ(all[0].name, "initial");
  EXPECT_EQ(MariaDbStore::LatestSchemaVersion(), all.back().version);
}

TEST(MariaDbMigrationsTest, OpenRefusesAnUnmigratedDatabaseUntilMigrated) {
  auto& server = MariaDbServer::Shared();
  const std::string dsn = server.CreateDatabase("fresh");
  EXPECT_EQ(MariaDbStore::SchemaVersion(dsn).value(), 0);
  auto refused = MariaDbStore::Open(dsn);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("parley migrate"), std::string::npos)
      << refused.status().message();

  auto v = MariaDbStore::Migrate(dsn);
  ASSERT_OK(StatusOf(v));
  EXPECT_EQ(*v, MariaDbStore::LatestSchemaVersion());
  EXPECT_EQ(MariaDbStore::SchemaVersion(dsn).value(), MariaDbStore::LatestSchemaVersion());
  EXPECT_OK(StatusOf(MariaDbStore::Open(dsn)));
}

TEST(MariaDbMigrationsTest, MigratingAgainOrConcurrentlyAppliesEachVersionOnce) {
  auto& server = MariaDbServer::Shared();
  const std::string dsn = server.CreateDatabase("concurrent");
  const std::string db = DatabaseOf(dsn);
  std::vector<std::future<StatusOr<int>>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&] { return MariaDbStore::Migrate(dsn); }));
  }
  for (auto& r : runs) {
    auto v = r.get();
    ASSERT_OK(StatusOf(v));
    EXPECT_EQ(*v, MariaDbStore::LatestSchemaVersion());
  }
  ASSERT_OK(StatusOf(MariaDbStore::Migrate(dsn)));  // and once more, later
  EXPECT_EQ(server.RootQuery("SELECT COUNT(*) FROM " + db + ".schema_version"),
            std::to_string(MariaDbStore::LatestSchemaVersion()));
  EXPECT_EQ(server.RootQuery("SELECT GROUP_CONCAT(version ORDER BY version) FROM " + db +
                             ".schema_version WHERE version = 1"),
            "1");
  // The schema is what the migrations say: every table is there, InnoDB,
  // utf8mb4.
  EXPECT_EQ(server.RootQuery("SELECT COUNT(*) FROM information_schema.tables WHERE "
                             "table_schema = '" +
                             db +
                             "' AND engine = 'InnoDB' AND "
                             "table_collation = 'utf8mb4_bin'"),
            "8");
}

TEST(MariaDbMigrationsTest, ANewerSchemaIsRefused) {
  auto& server = MariaDbServer::Shared();
  const std::string dsn = server.CreateDatabase("newer");
  ASSERT_OK(StatusOf(MariaDbStore::Migrate(dsn)));
  const int next = MariaDbStore::LatestSchemaVersion() + 1;
  server.Root(fmt::format("INSERT INTO {}.schema_version(version, name) VALUES({}, 'future')",
                          DatabaseOf(dsn), next));
  for (bool migrate : {false, true}) {
    MariaDbStoreOptions o;
    o.migrate = migrate;
    auto s = MariaDbStore::Open(dsn, o);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().message();
  }
  EXPECT_FALSE(MariaDbStore::Migrate(dsn).ok());
}

// --- opening, limits, closing ---

TEST(MariaDbStoreOpenTest, BadDsnsAndOptionsAreInvalidAndAnUnreachableServerUnavailable) {
  auto& server = MariaDbServer::Shared();
  EXPECT_EQ(MariaDbStore::Open("mysql://nobody@127.0.0.1").status().code(), Code::kInvalidArgument);
  MariaDbStoreOptions o;
  o.pool_size = 0;
  auto s = MariaDbStore::Open(server.Dsn(), o);
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("pool_size"), std::string::npos);
  o.pool_size = 4;
  o.append_pool_size = 0;
  s = MariaDbStore::Open(server.Dsn(), o);
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("append_pool_size"), std::string::npos);

  const uint16_t closed_port = parley::testing::FreeLoopbackPort();
  s = MariaDbStore::Open(fmt::format("mysql://parley:x@127.0.0.1:{}/parley", closed_port));
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  // A wrong password: UNAVAILABLE too, and the password is not in the message.
  s = MariaDbStore::Open(fmt::format("mysql://parley:wrong-pw@127.0.0.1:{}/parley", server.port()));
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_EQ(s.status().message().find("wrong-pw"), std::string::npos) << s.status().message();
}

TEST(MariaDbStoreOpenTest, ConnectsOverTheUnixSocket) {
  auto& server = MariaDbServer::Shared();
  const std::string db = DatabaseOf(server.CreateDatabase("socket"));
  auto s = MariaDbStore::Open(server.SocketDsn(db), Migrating());
  ASSERT_OK(StatusOf(s));
  BlockingStore store(s->get());
  EXPECT_OK(store.Ping());
  EXPECT_OK(StatusOf(store.CreateUser("ann")));
}

TEST_F(MariaDbStoreTest, AFullQueueOrAClosedStoreAnswersUnavailable) {
  MariaDbStoreOptions tiny = Migrating();
  tiny.pool_size = 1;
  tiny.queue_max = 1;
  ASSERT_NO_FATAL_FAILURE(Reopen(tiny));
  // The only worker blocks in a callback; one call waits in the queue; the
  // next finds it full.
  std::promise<void> release;
  HoldWorker([&](Callback<Status> cb) { store_->Ping(cb); }, release.get_future().share());
  std::promise<Status> queued;
  store_->Ping([&](Status s) { queued.set_value(s); });
  auto full = Ping();
  EXPECT_EQ(full.code(), Code::kUnavailable);
  release.set_value();
  EXPECT_OK(queued.get_future().get());

  store_->Close();
  EXPECT_EQ(Ping().code(), Code::kUnavailable);
  EXPECT_EQ(CreateUser("ann").status().code(), Code::kUnavailable);
}

// Message batches have workers of their own: however many wait (as after the
// server was away and the persist group catches up), reads and account
// writes go past them.
TEST_F(MariaDbStoreTest, BatchesWaitingForTheirWorkerDoNotHoldUpOtherCalls) {
  MariaDbStoreOptions one_each = Migrating();
  one_each.pool_size = 1;
  one_each.append_pool_size = 1;
  ASSERT_NO_FATAL_FAILURE(Reopen(one_each));
  // The append worker blocks in a batch's callback; more batches queue.
  std::promise<void> release;
  HoldWorker([&](Callback<Status> cb) { store_->AppendMessages({PrivateMsg(1, 1, 2, 1, 1)}, cb); },
             release.get_future().share());
  std::promise<Status> queued;
  store_->AppendMessages({PrivateMsg(2, 1, 2, 2, 2)}, [&](Status s) { queued.set_value(s); });

  EXPECT_OK(StatusOf(CreateUser("ann")));
  EXPECT_OK(Ping());
  EXPECT_EQ(Seqs("p:1:2"), (std::vector<uint64_t>{1}));

  release.set_value();
  EXPECT_OK(queued.get_future().get());
  EXPECT_EQ(Seqs("p:1:2"), (std::vector<uint64_t>{1, 2}));
}

// --- outages ---

// Calls `call` until it gives OK, for at most `limit`; returns how long.
template <typename Call>
std::chrono::milliseconds UntilOk(Call call, std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  while (!call().ok() && Clock::now() - start < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// The server stopped (cleanly, then killed) and started again on the same
// data: calls fail with UNAVAILABLE meanwhile, quickly, and succeed after.
// PARLEY_MARIADB_OUTAGE_MS sets how long each outage lasts (default 1000).
TEST(MariaDbOutageTest, CallsAreUnavailableDuringAnOutageAndSucceedAfter) {
  MariaDbServer server;  // its own: it goes down
  std::printf("[ mariadb  ] test server ready in %lld ms\n",
              static_cast<long long>(server.startup_time().count()));
  const char* env = std::getenv("PARLEY_MARIADB_OUTAGE_MS");
  const auto outage = std::chrono::milliseconds(env ? std::atoi(env) : 1000);
  MariaDbStoreOptions o = Migrating();
  o.pool_size = 2;
  o.connect_timeout_s = 1;
  o.reconnect_backoff_min_ms = 50;
  o.reconnect_backoff_max_ms = 200;
  auto opened = MariaDbStore::Open(server.Dsn(), o);
  ASSERT_OK(StatusOf(opened));
  std::unique_ptr<MariaDbStore> store = std::move(opened).value();
  BlockingStore s(store.get());
  auto ann = s.CreateUser("ann");
  ASSERT_OK(StatusOf(ann));
  ASSERT_OK(s.Append({PrivateMsg(1, 1, 2, 1, 10)}));

  uint64_t seq = 2;
  for (bool crash : {false, true}) {
    SCOPED_TRACE(crash ? "killed" : "stopped");
    if (crash) {
      server.Kill();
    } else {
      server.Stop();
    }
    const auto down = Clock::now();
    int calls = 0;
    while (Clock::now() - down < outage) {
      const auto t = Clock::now();
      EXPECT_EQ(s.Ping().code(), Code::kUnavailable);
      EXPECT_EQ(s.FindUserById(ann->user_id).status().code(), Code::kUnavailable);
      EXPECT_EQ(s.Append({PrivateMsg(100 + seq, 1, 2, seq, 10)}).code(), Code::kUnavailable);
      EXPECT_EQ(s.CreateUser(fmt::format("bob{}", seq)).status().code(), Code::kUnavailable);
      EXPECT_LT(Clock::now() - t, std::chrono::seconds(2)) << "failing must be fast";
      ++calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GT(calls, 0);

    server.Start();
    const auto recovered = UntilOk([&] { return s.Ping(); }, std::chrono::seconds(10));
    std::printf("[ mariadb  ] %s for %lld ms; store answered %lld ms after the restart\n",
                crash ? "killed" : "stopped", static_cast<long long>(outage.count()),
                static_cast<long long>(recovered.count()));
    EXPECT_LT(recovered, std::chrono::seconds(5));
    // Every kind of call works again, on every worker and on the message
    // batches' own connection, once each has waited out its reconnect
    // backoff (until then it fails fast, as above); nothing was lost. (A
    // server back within the backoff of the batches' connection made an
    // immediate Append fail here.) A retried Append stores nothing twice.
    const auto all_back = UntilOk(
        [&]() -> Status {
          for (int i = 0; i < 4; ++i) {
            if (Status st = StatusOf(s.FindUserById(ann->user_id)); !st.ok()) return st;
            if (Status st = s.Ping(); !st.ok()) return st;
          }
          return s.Append({PrivateMsg(100 + seq, 1, 2, seq, 10)});
        },
        std::chrono::seconds(10));
    EXPECT_LT(all_back, std::chrono::seconds(5));
    ASSERT_OK(s.Append({PrivateMsg(100 + seq, 1, 2, seq, 10)}));
    ASSERT_OK(StatusOf(s.CreateUser(fmt::format("bob{}", seq))));
    ++seq;
  }
  EXPECT_EQ(s.Seqs("p:1:2"), (std::vector<uint64_t>{1, 2, 3}));
}

}  // namespace
}  // namespace parley::store

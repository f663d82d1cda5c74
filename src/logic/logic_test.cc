// Logic over the real embedded parts (SQLite store and log, memory presence);
// only the connect tier is replaced, by a recorder of what Logic asks of it.
#include "logic/logic.h"

#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "presence/memory/memory_presence.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_util.h"

namespace parley::logic {
namespace {

using testing::Wait;

class RecordingConnect final : public connect::ConnectService, public connect::ConnectDirectory {
 public:
  void Push(rpc::PushRequest req, Callback<rpc::PushReply> done) override {
    std::lock_guard lock(mu);
    pushes.push_back(std::move(req));
    done(rpc::PushReply());
  }
  void Kick(rpc::KickRequest req, Callback<rpc::KickReply> done) override {
    std::lock_guard lock(mu);
    kicks.push_back(std::move(req));
    done(rpc::KickReply());
  }
  ConnectService* Find(const std::string& node) override { return node == "n1" ? this : nullptr; }
  std::vector<std::string> AllNodes() override { return {"n1"}; }

  std::mutex mu;
  std::vector<rpc::PushRequest> pushes;
  std::vector<rpc::KickRequest> kicks;
};

class LogicTest : public ::testing::Test {
 protected:
  LogicTest() : work_(io_.get_executor()) {
    options_.password_hash_cost = "min";
    options_.rate.send_per_sec = 1000;
    options_.rate.send_burst = 1000;
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/s.db", options_.storage)).value();
    log_ = std::move(queue::SqliteMessageLog::Open(dir_.path() + "/l.db", options_.storage, clock_))
               .value();
    thread_ = std::thread([this] { io_.run(); });
    logic_ = std::move(Logic::Create(io_.get_executor(), {options_, clock_, *store_, *log_,
                                                          presence_, connect_, metrics_}))
                 .value();
    Status s = Wait<Status>([&](auto cb) { logic_->Start(cb); });
    EXPECT_TRUE(s.ok()) << s.message();
  }
  ~LogicTest() override {
    log_->Close();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  uint64_t Register(const std::string& name) {
    rpc::RegisterRequest req;
    req.set_username(name);
    req.set_password("password123");
    auto r = Wait<rpc::RegisterReply>([&](auto cb) { logic_->Register(req, cb); });
    EXPECT_EQ(r.error().code(), rpc::OK) << r.error().message();
    return r.user().user_id();
  }
  rpc::LoginReply Login(const std::string& name, const std::string& password = "password123") {
    rpc::LoginRequest req;
    req.set_username(name);
    req.set_password(password);
    return Wait<rpc::LoginReply>([&](auto cb) { logic_->Login(req, cb); });
  }
  rpc::SendReply Send(uint64_t from, const std::string& id, uint64_t to_user,
                      const std::string& body, uint64_t to_group = 0) {
    rpc::SendRequest req;
    req.set_from(from);
    req.set_client_id(id);
    req.set_to_user(to_user);
    req.set_to_group(to_group);
    req.set_body(body);
    return Wait<rpc::SendReply>([&](auto cb) { logic_->Send(req, cb); });
  }

  testing::TempDir dir_;
  Options options_;
  ManualClock clock_{1'800'000'000'000};
  Metrics metrics_;
  presence::MemoryPresence presence_;
  RecordingConnect connect_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<queue::SqliteMessageLog> log_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::unique_ptr<Logic> logic_;
  std::unique_ptr<Logic> limited_;
};

TEST_F(LogicTest, RegisterLoginAndAuthenticate) {
  uint64_t alice = Register("Alice");
  rpc::RegisterRequest dup;
  dup.set_username("alice");
  dup.set_password("password123");
  auto r = Wait<rpc::RegisterReply>([&](auto cb) { logic_->Register(dup, cb); });
  EXPECT_EQ(r.error().code(), rpc::ALREADY_EXISTS);

  EXPECT_EQ(Login("alice", "wrong-password").error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(Login("nobody").error().code(), rpc::UNAUTHENTICATED);
  auto login = Login("ALICE");
  ASSERT_EQ(login.error().code(), rpc::OK);
  EXPECT_EQ(login.user_id(), alice);
  EXPECT_EQ(login.expires_at(), clock_.NowMs() + options_.token_ttl_ms);

  rpc::AuthRequest auth;
  auth.set_token(login.token());
  auto a = Wait<rpc::AuthReply>([&](auto cb) { logic_->Auth(auth, cb); });
  EXPECT_EQ(a.user_id(), alice);
  clock_.AdvanceMs(options_.token_ttl_ms);
  a = Wait<rpc::AuthReply>([&](auto cb) { logic_->Auth(auth, cb); });
  EXPECT_EQ(a.error().code(), rpc::UNAUTHENTICATED);
}

TEST_F(LogicTest, LogoutRevokesAtOnceAndKicksTheSessionsSockets) {
  Register("alice");
  auto login = Login("alice");
  rpc::LogoutRequest out;
  out.set_token(login.token());
  EXPECT_EQ(Wait<rpc::LogoutReply>([&](auto cb) { logic_->Logout(out, cb); }).error().code(),
            rpc::OK);
  rpc::AuthRequest auth;
  auth.set_token(login.token());
  EXPECT_EQ(Wait<rpc::AuthReply>([&](auto cb) { logic_->Auth(auth, cb); }).error().code(),
            rpc::UNAUTHENTICATED);
  std::lock_guard lock(connect_.mu);
  ASSERT_EQ(connect_.kicks.size(), 1u);
  EXPECT_EQ(connect_.kicks[0].close_code(), 4001u);
  EXPECT_EQ(connect_.kicks[0].session_key(), HashToken(login.token()));
}

TEST_F(LogicTest, SeqsAreGapFreeInSendOrderAndDurableBeforeTheAck) {
  uint64_t a = Register("alice"), b = Register("bob");
  std::vector<std::future<rpc::SendReply>> acks;
  std::vector<std::shared_ptr<std::promise<rpc::SendReply>>> promises;
  for (int i = 0; i < 200; ++i) {
    auto p = std::make_shared<std::promise<rpc::SendReply>>();
    acks.push_back(p->get_future());
    rpc::SendRequest req;
    req.set_from(i % 2 ? a : b);
    req.set_client_id("m" + std::to_string(i));
    req.set_to_user(i % 2 ? b : a);
    req.set_body("hello " + std::to_string(i));
    logic_->Send(req, [p](rpc::SendReply r) { p->set_value(r); });
  }
  uint64_t prev_id = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = acks[i].get();
    ASSERT_EQ(r.error().code(), rpc::OK) << r.error().message();
    EXPECT_EQ(r.seq(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(r.conv(), model::ConvId::Private(a, b).ToString());
    EXPECT_GT(r.msg_id(), prev_id);
    prev_id = r.msg_id();
  }
  EXPECT_EQ(log_->Lag("persist"), 200u);  // all in the durable log
}

TEST_F(LogicTest, ResendGetsTheFirstAckWhateverTheBody) {
  uint64_t a = Register("alice"), b = Register("bob");
  auto first = Send(a, "same-id", b, "one");
  auto again = Send(a, "same-id", b, "two");
  EXPECT_EQ(again.msg_id(), first.msg_id());
  EXPECT_EQ(again.seq(), first.seq());
  EXPECT_EQ(again.ts(), first.ts());
  EXPECT_EQ(Send(b, "same-id", a, "from bob").seq(), 2u);  // ids are per sender
  EXPECT_EQ(log_->Lag("persist"), 2u);
}

TEST_F(LogicTest, RejectsUnknownRecipientsNonMembersAndBadInput) {
  uint64_t a = Register("alice"), b = Register("bob"), c = Register("carol");
  EXPECT_EQ(Send(a, "x1", 999, "hi").error().code(), rpc::NOT_FOUND);
  EXPECT_EQ(Send(a, "x2", 0, "hi", 42).error().code(), rpc::NOT_FOUND);
  EXPECT_EQ(Send(a, "x3", b, "").error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_EQ(Send(a, "bad id", b, "hi").error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_EQ(Send(a, "x4", b, "hi", 5).error().code(), rpc::INVALID_ARGUMENT);  // both targets

  rpc::CreateGroupRequest create;
  create.set_caller(a);
  create.set_name("team");
  create.add_members(b);
  auto g = Wait<rpc::GroupReply>([&](auto cb) { logic_->CreateGroup(create, cb); });
  ASSERT_EQ(g.error().code(), rpc::OK);
  EXPECT_EQ(g.group().owner(), a);
  EXPECT_EQ(Send(c, "x5", 0, "let me in", g.group().group_id()).error().code(),
            rpc::PERMISSION_DENIED);
  auto ok = Send(b, "x6", 0, "hi team", g.group().group_id());
  EXPECT_EQ(ok.conv(), "g:" + std::to_string(g.group().group_id()));
  EXPECT_EQ(ok.seq(), 1u);
}

TEST_F(LogicTest, SendsOverTheRateGetRateLimitedWithRetryAfter) {
  options_.rate.send_burst = 2;
  options_.rate.send_per_sec = 1;
  // The limiter reads the options at construction: make a Logic with them.
  // The fixture owns it, so that it outlives the io thread's last handler.
  limited_ = std::move(Logic::Create(io_.get_executor(), {options_, clock_, *store_, *log_,
                                                          presence_, connect_, metrics_}))
                 .value();
  Logic* limited = limited_.get();
  ASSERT_OK(Wait<Status>([&](auto cb) { limited->Start(cb); }));
  uint64_t a = Register("alice"), b = Register("bob");
  auto send = [&](const std::string& id) {
    rpc::SendRequest req;
    req.set_from(a);
    req.set_client_id(id);
    req.set_to_user(b);
    req.set_body("hi");
    return Wait<rpc::SendReply>([&](auto cb) { limited->Send(req, cb); });
  };
  EXPECT_EQ(send("r1").error().code(), rpc::OK);
  EXPECT_EQ(send("r2").error().code(), rpc::OK);
  auto r = send("r3");
  EXPECT_EQ(r.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(r.error().retry_after_ms(), 1000);
  clock_.AdvanceMs(1000);
  EXPECT_EQ(send("r3").error().code(), rpc::OK);
}

TEST_F(LogicTest, SyncServesAcknowledgedMessagesBeforeTheyArePersisted) {
  uint64_t a = Register("alice"), b = Register("bob");
  for (int i = 0; i < 5; ++i) Send(a, "s" + std::to_string(i), b, "m" + std::to_string(i));
  rpc::SyncRequest sync;
  sync.set_user_id(b);
  sync.set_conv(model::ConvId::Private(a, b).ToString());
  sync.set_has_after(true);
  sync.set_after_seq(2);
  sync.set_limit(2);
  auto r = Wait<rpc::SyncReply>([&](auto cb) { logic_->Sync(sync, cb); });
  ASSERT_EQ(r.error().code(), rpc::OK);
  ASSERT_EQ(r.messages_size(), 2);
  EXPECT_EQ(r.messages(0).seq(), 3u);
  EXPECT_EQ(r.messages(1).body(), "m3");
  EXPECT_TRUE(r.has_more());
  sync.set_user_id(Register("carol"));
  EXPECT_EQ(Wait<rpc::SyncReply>([&](auto cb) { logic_->Sync(sync, cb); }).error().code(),
            rpc::PERMISSION_DENIED);
}

TEST_F(LogicTest, ConnectRegistersPresenceAndListsConversations) {
  uint64_t a = Register("alice"), b = Register("bob");
  Send(a, "c1", b, "hello");
  auto login = Login("bob");
  rpc::ConnectRequest req;
  req.set_token(login.token());
  req.set_node_id("n1");
  req.set_conn_id(5);
  auto r = Wait<rpc::ConnectReply>([&](auto cb) { logic_->Connect(req, cb); });
  ASSERT_EQ(r.error().code(), rpc::OK) << r.error().message();
  EXPECT_EQ(r.user_id(), b);
  EXPECT_TRUE(presence_.IsOnline(b));
  rpc::DisconnectRequest d;
  d.set_user_id(b);
  d.set_node_id("n1");
  d.set_conn_id(5);
  Wait<rpc::DisconnectReply>([&](auto cb) { logic_->Disconnect(d, cb); });
  EXPECT_FALSE(presence_.IsOnline(b));
  req.set_token("not-a-token");
  EXPECT_EQ(Wait<rpc::ConnectReply>([&](auto cb) { logic_->Connect(req, cb); }).error().code(),
            rpc::UNAUTHENTICATED);
}

TEST_F(LogicTest, ReadMovesTheCursorAndNotifiesTheOtherParticipant) {
  uint64_t a = Register("alice"), b = Register("bob");
  Send(a, "r1", b, "one");
  Send(a, "r2", b, "two");
  presence_.Add(a, {"n1", 1});
  rpc::ReadRequest read;
  read.set_user_id(b);
  read.set_conv(model::ConvId::Private(a, b).ToString());
  read.set_seq(2);
  EXPECT_EQ(Wait<rpc::ReadReply>([&](auto cb) { logic_->Read(read, cb); }).error().code(), rpc::OK);
  std::lock_guard lock(connect_.mu);
  ASSERT_EQ(connect_.pushes.size(), 1u);
  const auto& ev = connect_.pushes[0].events(0);
  EXPECT_EQ(ev.read().seq(), 2u);
  EXPECT_EQ(ev.read().user_id(), b);
  EXPECT_EQ(ev.user_ids(0), a);
}

}  // namespace
}  // namespace parley::logic

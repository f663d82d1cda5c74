// Accounts through the Logic facade: registering, logging in and out, and
// who a caller is (a bearer token, or a socket's user and session).
#include <future>

#include <gtest/gtest.h>

#include "logic/logic_test_world.h"

namespace parley::logic {
namespace {

using testing::LogicWorld;
using testing::Wait;

rpc::AuthReply Auth(LogicWorld& w, const CallContext& ctx, int n = 0) {
  return Wait<rpc::AuthReply>([&](auto cb) { w.node(n).Auth(ctx, {}, cb); });
}
rpc::LoginReply Login(LogicWorld& w, const std::string& name, const std::string& password) {
  rpc::LoginRequest req;
  req.set_username(name);
  req.set_password(password);
  return Wait<rpc::LoginReply>([&](auto cb) { w.node().Login({}, req, cb); });
}

TEST(AccountsTest, UsernamesAreUniqueAndLoginIsCaseInsensitive) {
  LogicWorld w;
  uint64_t alice = w.Register("Alice");
  rpc::RegisterRequest dup;
  dup.set_username("alice");
  dup.set_password("password123");
  auto r = Wait<rpc::RegisterReply>([&](auto cb) { w.node().Register({}, dup, cb); });
  EXPECT_EQ(r.error().code(), rpc::ALREADY_EXISTS);
  EXPECT_EQ(Login(w, "alice", "wrong-password").error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(Login(w, "nobody", "password123").error().code(), rpc::UNAUTHENTICATED);
  auto login = Login(w, "ALICE", "password123");
  ASSERT_EQ(login.error().code(), rpc::OK);
  EXPECT_EQ(login.user_id(), alice);
  EXPECT_EQ(login.expires_at(), w.clock().NowMs() + w.options().token_ttl_ms);
}

TEST(AccountsTest, ATokenNamesItsUserUntilItExpires) {
  LogicWorld w;
  uint64_t alice = w.Register("alice");
  CallContext ctx = w.Login("alice");
  auto a = Auth(w, ctx);
  ASSERT_EQ(a.error().code(), rpc::OK);
  EXPECT_EQ(a.user_id(), alice);
  EXPECT_EQ(a.session_key(), HashToken(ctx.token));
  w.clock().AdvanceMs(w.options().token_ttl_ms);
  EXPECT_EQ(Auth(w, ctx).error().code(), rpc::UNAUTHENTICATED);
}

TEST(AccountsTest, CallsWithoutOrWithWrongCredentialsAreRefused) {
  LogicWorld w;
  uint64_t alice = w.Register("alice");
  uint64_t bob = w.Register("bob");
  EXPECT_EQ(Auth(w, {}).error().code(), rpc::UNAUTHENTICATED);
  CallContext bogus;
  bogus.token = "not-a-token";
  EXPECT_EQ(Auth(w, bogus).error().code(), rpc::UNAUTHENTICATED);
  bogus.token = std::string(300, 'x');
  EXPECT_EQ(Auth(w, bogus).error().code(), rpc::UNAUTHENTICATED);
  // A socket's session claims its own user only.
  CallContext socket = w.Socket(w.Login("alice"), 1);
  EXPECT_EQ(Auth(w, socket).user_id(), alice);
  socket.user_id = bob;
  EXPECT_EQ(Auth(w, socket).error().code(), rpc::UNAUTHENTICATED);
}

TEST(AccountsTest, LogoutRevokesTheSessionAtOnceAndKicksItsSockets) {
  LogicWorld w;
  w.Register("alice");
  CallContext login = w.Login("alice");
  CallContext other = w.Login("alice");
  CallContext socket = w.Socket(login, 7);
  auto out = Wait<rpc::LogoutReply>([&](auto cb) { w.node().Logout(login, {}, cb); });
  EXPECT_EQ(out.error().code(), rpc::OK);
  EXPECT_EQ(Auth(w, login).error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(Auth(w, socket).error().code(), rpc::UNAUTHENTICATED);
  EXPECT_EQ(Auth(w, other).error().code(), rpc::OK);  // only that session
  auto kicks = w.connect().kicks();
  ASSERT_EQ(kicks.size(), 1u);
  EXPECT_EQ(kicks[0].close_code(), 4001u);
  EXPECT_EQ(kicks[0].session_key(), HashToken(login.token));
}

TEST(AccountsTest, ACallPastItsDeadlineIsNotStarted) {
  LogicWorld w;
  w.Register("alice");
  CallContext ctx = w.Login("alice");
  ctx.deadline_ms = w.clock().NowMs();
  auto a = Auth(w, ctx);
  EXPECT_EQ(a.error().code(), rpc::UNAVAILABLE);
  EXPECT_EQ(a.error().message(), "deadline exceeded");
  ctx.deadline_ms = w.clock().NowMs() + 1000;
  EXPECT_EQ(Auth(w, ctx).error().code(), rpc::OK);
}

TEST(AccountsTest, RegistrationsAndLoginsAreLimitedPerAddress) {
  Options o = testing::TestOptions();
  o.rate.auth_burst = 2;
  o.rate.auth_per_sec = 1;
  LogicWorld w(o);
  CallContext from_ip;
  from_ip.client_ip = "192.0.2.1";
  rpc::RegisterRequest req;
  req.set_password("password123");
  auto reg = [&](const std::string& name, const CallContext& ctx) {
    req.set_username(name);
    return Wait<rpc::RegisterReply>([&](auto cb) { w.node().Register(ctx, req, cb); });
  };
  EXPECT_EQ(reg("user1", from_ip).error().code(), rpc::OK);
  EXPECT_EQ(reg("user2", from_ip).error().code(), rpc::OK);
  auto limited = reg("user3", from_ip);
  EXPECT_EQ(limited.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(limited.error().retry_after_ms(), 1000);
  CallContext elsewhere;
  elsewhere.client_ip = "192.0.2.2";
  EXPECT_EQ(reg("user3", elsewhere).error().code(), rpc::OK);
}

// Issue 10, finding 2 (logic's side): every call checks the session's
// expiry, those of an open socket (user + session key) as well as HTTP's
// bearer token; past it they are refused and nothing is stored.
TEST(AccountsTest, ExpiredSessionsAreRefusedOnEveryCallAndStoreNothing) {
  Options o = testing::TestOptions();
  o.token_ttl_ms = 60'000;
  LogicWorld w(o);
  w.Register("alice");
  uint64_t bob = w.Register("bob");
  CallContext http = w.Login("alice");
  CallContext socket = w.Socket(http, 1);
  ASSERT_EQ(w.Send(socket, "before", bob, "hi").error().code(), rpc::OK);
  w.clock().AdvanceMs(o.token_ttl_ms);
  for (const CallContext& ctx : {http, socket}) {
    auto sent = w.Send(ctx, "after", bob, "too late");
    EXPECT_EQ(sent.error().code(), rpc::UNAUTHENTICATED);
    EXPECT_EQ(w.Sync(ctx, "", 0).error().code(), rpc::UNAUTHENTICATED);
    rpc::ReadRequest read;
    read.set_seq(1);
    EXPECT_EQ(Wait<rpc::ReadReply>([&](auto cb) { w.node().Read(ctx, read, cb); }).error().code(),
              rpc::UNAUTHENTICATED);
    EXPECT_EQ(Auth(w, ctx).error().code(), rpc::UNAUTHENTICATED);
    rpc::ConnectRequest connect;
    connect.set_node_id(LogicWorld::kNode);
    connect.set_conn_id(2);
    EXPECT_EQ(Wait<rpc::ConnectReply>([&](auto cb) { w.node().Connect(ctx, connect, cb); })
                  .error()
                  .code(),
              rpc::UNAUTHENTICATED);
  }
  EXPECT_EQ(w.Logged(1).size(), 1u);  // only the send made before the expiry
}

// Issue 10, finding 7: the per-address bucket is per network, so the many
// addresses of one IPv6 /64 share it.
TEST(AccountsTest, AnIpv6Slash64SharesOneAuthBucket) {
  Options o = testing::TestOptions();
  o.rate.auth_burst = 2;
  o.rate.auth_per_sec = 0.001;
  LogicWorld w(o);
  auto login_from = [&](const std::string& ip) {
    CallContext ctx;
    ctx.client_ip = ip;
    rpc::LoginRequest req;
    req.set_username("nobody");
    req.set_password("password123");
    return Wait<rpc::LoginReply>([&](auto cb) { w.node().Login(ctx, req, cb); }).error().code();
  };
  EXPECT_EQ(login_from("2001:db8:1:2::1"), rpc::UNAUTHENTICATED);
  EXPECT_EQ(login_from("2001:db8:1:2::2"), rpc::UNAUTHENTICATED);
  EXPECT_EQ(login_from("2001:db8:1:2:ffff::3"), rpc::RATE_LIMITED);
  EXPECT_EQ(login_from("2001:db8:1:3::1"), rpc::UNAUTHENTICATED);  // the next /64
}

// Issue 10, finding 7: failed logins are limited per account, whatever the
// address they come from; a right password is not counted, and the limit
// answers like the per-address one.
TEST(AccountsTest, FailedLoginsAreLimitedPerAccountAcrossAddresses) {
  Options o = testing::TestOptions();
  o.rate.login_failures_burst = 3;
  o.rate.login_failures_per_sec = 0.1;
  LogicWorld w(o);
  w.Register("alice");
  w.Register("bob");
  int ip = 0;
  auto login = [&](const std::string& name, const std::string& password) {
    CallContext ctx;
    ctx.client_ip = "198.51.100." + std::to_string(++ip);  // a botnet: never the same address
    rpc::LoginRequest req;
    req.set_username(name);
    req.set_password(password);
    return Wait<rpc::LoginReply>([&](auto cb) { w.node().Login(ctx, req, cb); });
  };
  EXPECT_EQ(login("alice", "password123").error().code(), rpc::OK);  // not a failure
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(login("ALICE", "guess" + std::to_string(i)).error().code(), rpc::UNAUTHENTICATED);
  }
  auto limited = login("alice", "guess-3");
  EXPECT_EQ(limited.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(limited.error().retry_after_ms(), 10'000);
  // Even the right password waits: the guesser must not learn it is right.
  EXPECT_EQ(login("alice", "password123").error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(login("bob", "password123").error().code(), rpc::OK);  // other accounts unaffected
  w.clock().AdvanceMs(10'000);
  EXPECT_EQ(login("alice", "password123").error().code(), rpc::OK);
}

// Issue 8 (cluster mode): the auth buckets live in the AuthRateLimits seam,
// which every logic node shares, so a register and a login from one address
// meet one bucket whichever nodes serve them, and so do the failed logins of
// one account (in a cluster the seam is Redis).
TEST(AccountsTest, LogicNodesShareTheAuthBuckets) {
  Options o = testing::TestOptions();
  o.rate.auth_burst = 3;
  o.rate.auth_per_sec = 0.001;
  o.rate.login_failures_burst = 2;
  o.rate.login_failures_per_sec = 0.001;
  LogicWorld w(o);
  w.AddNode();
  CallContext from_ip;
  from_ip.client_ip = "192.0.2.7";
  rpc::RegisterRequest reg;
  reg.set_username("alice");
  reg.set_password("password123");
  auto login = [&](int node, const std::string& password, const CallContext& ctx) {
    rpc::LoginRequest req;
    req.set_username("alice");
    req.set_password(password);
    return Wait<rpc::LoginReply>([&](auto cb) { w.node(node).Login(ctx, req, cb); });
  };
  ASSERT_EQ(Wait<rpc::RegisterReply>([&](auto cb) { w.node(0).Register(from_ip, reg, cb); })
                .error()
                .code(),
            rpc::OK);
  EXPECT_EQ(login(1, "password123", from_ip).error().code(), rpc::OK);
  EXPECT_EQ(login(0, "wrong-password", from_ip).error().code(), rpc::UNAUTHENTICATED);
  auto limited = login(1, "password123", from_ip);
  EXPECT_EQ(limited.error().code(), rpc::RATE_LIMITED);
  EXPECT_GT(limited.error().retry_after_ms(), 0);

  // Failed logins of one account, from other addresses, through both nodes:
  // one wrong password above and one more fill the bucket of 2.
  CallContext other;
  other.client_ip = "198.51.100.9";
  EXPECT_EQ(login(1, "wrong-again", other).error().code(), rpc::UNAUTHENTICATED);
  other.client_ip = "198.51.100.10";
  EXPECT_EQ(login(0, "password123", other).error().code(), rpc::RATE_LIMITED);
}

// AuthRateLimits that cannot answer, as a cluster's when Redis is away;
// `fail_count_only`: only the count of a failure fails.
class UnreachableAuthRateLimits final : public state::AuthRateLimits {
 public:
  explicit UnreachableAuthRateLimits(bool fail_count_only) : fail_count_only_(fail_count_only) {}
  void TakeNetwork(std::string, Callback<StatusOr<state::RateDecision>> done) override {
    done(Answer(false));
  }
  void CheckLoginFailures(std::string, Callback<StatusOr<state::RateDecision>> done) override {
    done(Answer(false));
  }
  void TakeLoginFailure(std::string, Callback<StatusOr<state::RateDecision>> done) override {
    done(Answer(true));
  }

 private:
  StatusOr<state::RateDecision> Answer(bool count) const {
    if (fail_count_only_ && !count) return state::RateDecision{};
    return Status::Unavailable("redis: connection refused");
  }
  bool fail_count_only_;
};

// Issue 8: auth buckets that cannot be consulted fail closed: register and
// login are 503 with a retry hint (and a generic message), nothing is
// created; a failure that cannot be counted still answers as a failure.
TEST(AccountsTest, AuthBucketsThatCannotBeConsultedRefuseTheAttempt) {
  LogicWorld w;
  w.Register("alice");
  UnreachableAuthRateLimits away(/*fail_count_only=*/false);
  w.AddNode(nullptr, &away);
  rpc::RegisterRequest reg;
  reg.set_username("bob");
  reg.set_password("password123");
  auto refused = Wait<rpc::RegisterReply>([&](auto cb) { w.node(1).Register({}, reg, cb); });
  EXPECT_EQ(refused.error().code(), rpc::UNAVAILABLE);
  EXPECT_EQ(refused.error().message(), "temporarily unavailable; retry later");
  EXPECT_EQ(refused.error().retry_after_ms(), 1000);
  rpc::LoginRequest login;
  login.set_username("alice");
  login.set_password("password123");
  auto no_login = Wait<rpc::LoginReply>([&](auto cb) { w.node(1).Login({}, login, cb); });
  EXPECT_EQ(no_login.error().code(), rpc::UNAVAILABLE);
  EXPECT_EQ(no_login.error().retry_after_ms(), 1000);
  EXPECT_TRUE(no_login.token().empty());
  w.Register("bob");  // bob was not created by the refused attempt

  UnreachableAuthRateLimits uncountable(/*fail_count_only=*/true);
  w.AddNode(nullptr, &uncountable);
  login.set_password("wrong-password");
  EXPECT_EQ(Wait<rpc::LoginReply>([&](auto cb) { w.node(2).Login({}, login, cb); }).error().code(),
            rpc::UNAUTHENTICATED);
}

// Issue 10, finding 7: argon2id runs on a bounded queue; when it is full,
// register and login answer UNAVAILABLE with a retry hint (HTTP 503 +
// Retry-After) at once instead of queueing without bound.
TEST(AccountsTest, AFullHasherQueueAnswersUnavailableWithRetryAfter) {
  Options o = testing::TestOptions();
  o.password_hash_cost = "interactive";  // slow enough for a queue to build
  o.password_hash_threads = 1;
  o.password_hash_queue_max = 1;
  LogicWorld w(o);
  constexpr int kLogins = 8;
  std::vector<std::future<rpc::LoginReply>> replies;
  for (int i = 0; i < kLogins; ++i) {
    auto p = std::make_shared<std::promise<rpc::LoginReply>>();
    replies.push_back(p->get_future());
    rpc::LoginRequest req;
    req.set_username("nobody" + std::to_string(i));
    req.set_password("password123");
    w.node().Login({}, req, [p](rpc::LoginReply r) { p->set_value(std::move(r)); });
  }
  int busy = 0, verified = 0;
  for (auto& f : replies) {
    auto r = f.get();
    if (r.error().code() == rpc::UNAVAILABLE) {
      ++busy;
      EXPECT_EQ(r.error().retry_after_ms(), 1000);
    } else {
      EXPECT_EQ(r.error().code(), rpc::UNAUTHENTICATED);
      ++verified;
    }
  }
  EXPECT_GE(verified, 2);  // the one running and the one queued
  EXPECT_GE(busy, 1);
  EXPECT_EQ(busy + verified, kLogins);
}

// Issue 10, finding 10: user lookups are limited per caller (looking oneself
// up is not), so walking the id space is slow.
TEST(AccountsTest, UserLookupsAreLimitedPerCaller) {
  Options o = testing::TestOptions();
  o.rate.user_lookups_burst = 3;
  o.rate.user_lookups_per_sec = 0.5;
  LogicWorld w(o);
  uint64_t alice = w.Register("alice");
  uint64_t bob = w.Register("bob");
  CallContext as_alice = w.Login("alice");
  auto lookup = [&](const CallContext& ctx, uint64_t id) {
    rpc::GetUserRequest req;
    req.set_user_id(id);
    return Wait<rpc::GetUserReply>([&](auto cb) { w.node().GetUser(ctx, req, cb); });
  };
  EXPECT_EQ(lookup(as_alice, bob).error().code(), rpc::OK);
  EXPECT_EQ(lookup(as_alice, bob + 100).error().code(), rpc::NOT_FOUND);  // misses count too
  EXPECT_EQ(lookup(as_alice, bob + 101).error().code(), rpc::NOT_FOUND);
  auto limited = lookup(as_alice, bob);
  EXPECT_EQ(limited.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(limited.error().retry_after_ms(), 2000);
  EXPECT_EQ(lookup(as_alice, alice).error().code(), rpc::OK);        // oneself: free
  EXPECT_EQ(lookup(w.Login("bob"), alice).error().code(), rpc::OK);  // per caller
}

// Issue 10, finding 10: online state is shown only to users who share a
// conversation with the user looked up; others see it false.
TEST(AccountsTest, OnlineStateIsShownOnlyToThoseSharingAConversation) {
  LogicWorld w;
  uint64_t alice = w.Register("alice");
  uint64_t bob = w.Register("bob");
  w.Register("carol");
  w.Register("dave");
  CallContext as_alice = w.Login("alice");
  CallContext as_bob = w.Login("bob");
  CallContext as_carol = w.Login("carol");
  CallContext as_dave = w.Login("dave");
  w.Socket(as_alice, 1);  // alice is online
  auto online = [&](const CallContext& ctx) {
    rpc::GetUserRequest req;
    req.set_user_id(alice);
    auto r = Wait<rpc::GetUserReply>([&](auto cb) { w.node().GetUser(ctx, req, cb); });
    EXPECT_EQ(r.error().code(), rpc::OK);
    return r.user().online();
  };
  EXPECT_TRUE(online(as_alice));  // oneself
  EXPECT_FALSE(online(as_bob));   // a stranger
  EXPECT_FALSE(online(as_carol));
  ASSERT_EQ(w.Send(as_bob, "hi", alice, "hi").error().code(), rpc::OK);
  EXPECT_TRUE(online(as_bob));  // a private conversation
  ASSERT_EQ(w.CreateGroup(as_carol, {alice}).error().code(), rpc::OK);
  EXPECT_TRUE(online(as_carol));  // a group both are in
  EXPECT_FALSE(online(as_dave));
  (void)bob;
}

// Issue 10, finding 10: expired sessions are purged from the store
// periodically (session_purge_interval_ms); live ones stay.
TEST(AccountsTest, ExpiredSessionsArePurgedFromTheStorePeriodically) {
  Options o = testing::TestOptions();
  o.token_ttl_ms = 60'000;
  o.session_purge_interval_ms = 10;
  LogicWorld w(o);
  w.Register("alice");
  CallContext old = w.Login("alice");
  w.clock().AdvanceMs(o.token_ttl_ms);
  CallContext fresh = w.Login("alice");
  auto stored = [&](const CallContext& ctx) {
    return Wait<StatusOr<store::SessionRecord>>(
        [&](auto cb) { w.store().FindSession(HashToken(ctx.token), cb); });
  };
  for (int i = 0; i < 2000 && stored(old).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(stored(old).status().IsNotFound());
  EXPECT_OK(stored(fresh).status());
}

}  // namespace
}  // namespace parley::logic

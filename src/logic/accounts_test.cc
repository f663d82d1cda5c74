// Accounts through the Logic facade: registering, logging in and out, and
// who a caller is (a bearer token, or a socket's user and session).
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

}  // namespace
}  // namespace parley::logic

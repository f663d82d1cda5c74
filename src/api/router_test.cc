#include "api/router.h"

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::api {
namespace {

using boost::beast::http::verb;
using Result = RouteMatch::Result;

RouteMatch Match(verb method, std::string_view target) {
  StatusOr<RequestTarget> t = ParseTarget(target);
  EXPECT_TRUE(t.ok()) << target;
  return MatchRoute(method, t.ok() ? t->segments : std::vector<std::string>{"api", "bad"});
}

TEST(RequestTargetTest, DecodesSegmentsAndQuery) {
  StatusOr<RequestTarget> t =
      ParseTarget("/api/v1/conversations/p%3A1%3A2/messages?after_seq=5&limit=10&x");
  ASSERT_OK(t.status());
  EXPECT_EQ(t->path, "/api/v1/conversations/p%3A1%3A2/messages");
  EXPECT_EQ(t->segments,
            (std::vector<std::string>{"api", "v1", "conversations", "p:1:2", "messages"}));
  ASSERT_NE(t->Query("after_seq"), nullptr);
  EXPECT_EQ(*t->Query("after_seq"), "5");
  EXPECT_EQ(*t->Query("limit"), "10");
  ASSERT_NE(t->Query("x"), nullptr);
  EXPECT_EQ(*t->Query("x"), "");
  EXPECT_EQ(t->Query("before_seq"), nullptr);
}

TEST(RequestTargetTest, FirstQueryValueWinsAndIsDecoded) {
  StatusOr<RequestTarget> t = ParseTarget("/api/v1/users?username=a%2Eb&username=c");
  ASSERT_OK(t.status());
  EXPECT_EQ(*t->Query("username"), "a.b");
}

TEST(RequestTargetTest, RootAndTrailingSlash) {
  EXPECT_TRUE(ParseTarget("/")->segments.empty());
  EXPECT_EQ(ParseTarget("/docs/")->segments, (std::vector<std::string>{"docs", ""}));
}

TEST(RequestTargetTest, RefusesNonOriginForm) {
  for (std::string_view bad : {"", "*", "api/v1", "http://example.com/x", "/a%zz", "/a b"}) {
    StatusOr<RequestTarget> t = ParseTarget(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), Code::kInvalidArgument);
  }
}

TEST(RouterTest, EveryEndpoint) {
  struct Case {
    verb method;
    const char* target;
    Route route;
    std::vector<std::string> params;
  };
  const Case cases[] = {
      {verb::post, "/api/v1/users", Route::kRegister, {}},
      {verb::get, "/api/v1/users?username=bob", Route::kFindUser, {}},
      {verb::get, "/api/v1/users/me", Route::kMe, {}},
      {verb::get, "/api/v1/users/12", Route::kGetUser, {"12"}},
      {verb::post, "/api/v1/sessions", Route::kLogin, {}},
      {verb::delete_, "/api/v1/sessions", Route::kLogout, {}},
      {verb::post, "/api/v1/groups", Route::kCreateGroup, {}},
      {verb::get, "/api/v1/groups/12", Route::kGetGroup, {"12"}},
      {verb::post, "/api/v1/groups/12/members", Route::kAddMember, {"12"}},
      {verb::delete_, "/api/v1/groups/12/members/7", Route::kRemoveMember, {"12", "7"}},
      {verb::get, "/api/v1/conversations", Route::kConversations, {}},
      {verb::get, "/api/v1/conversations/p:1:2/messages", Route::kHistory, {"p:1:2"}},
      {verb::get, "/api/v1/conversations/g%3A9/messages?limit=3", Route::kHistory, {"g:9"}},
      {verb::post, "/api/v1/messages", Route::kSend, {}},
      {verb::get, "/api/v1/endpoints", Route::kEndpoints, {}},
      {verb::get, "/healthz", Route::kHealthz, {}},
      {verb::head, "/healthz", Route::kHealthz, {}},
      {verb::get, "/readyz", Route::kReadyz, {}},
      {verb::get, "/metrics", Route::kStatic, {}},  // not here: on the admin port
      {verb::get, "/ws?token=abc", Route::kWebSocket, {}},
      {verb::get, "/", Route::kStatic, {}},
      {verb::get, "/app.js", Route::kStatic, {}},
      {verb::post, "/app.js", Route::kStatic, {}},
      {verb::get, "/ws/extra", Route::kStatic, {}},
  };
  for (const Case& c : cases) {
    RouteMatch m = Match(c.method, c.target);
    EXPECT_EQ(m.result, Result::kMatched) << c.target;
    EXPECT_EQ(m.route, c.route) << c.target;
    EXPECT_EQ(m.params, c.params) << c.target;
  }
}

TEST(RouterTest, UnknownApiPathsAreNotFound) {
  for (const char* target : {"/api", "/api/", "/api/v1", "/api/v2/users", "/api/v1/users/",
                             "/api/v1//users", "/api/v1/groups/", "/api/v1/groups/1/extra",
                             "/api/v1/conversations//messages", "/api/v1/nope"}) {
    EXPECT_EQ(Match(verb::get, target).result, Result::kNotFound) << target;
  }
}

TEST(RouterTest, WrongMethodIsNotAllowedWithAllow) {
  RouteMatch m = Match(verb::put, "/api/v1/users");
  EXPECT_EQ(m.result, Result::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
  m = Match(verb::get, "/api/v1/sessions");
  EXPECT_EQ(m.result, Result::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "DELETE, POST");
  m = Match(verb::post, "/healthz");
  EXPECT_EQ(m.result, Result::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD");
  m = Match(verb::head, "/ws");
  EXPECT_EQ(m.result, Result::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET");
  m = Match(verb::delete_, "/api/v1/groups/3");
  EXPECT_EQ(m.result, Result::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD");
}

}  // namespace
}  // namespace parley::api

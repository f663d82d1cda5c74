// HttpServer over a real loopback socket, against the shared FakeLogic
// (src/logic/testing) and a MemoryDiscovery: checks the HTTP <-> protobuf
// translation, the CallContext of each request's one logic call, status codes
// and error bodies.
#include "api/http_server.h"
#include "api/http_reply.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include "discovery/memory/memory_discovery.h"
#include "logic/testing/fake_logic.h"
#include "support/test_util.h"

namespace parley::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

rpc::Error Err(rpc::Code code, const std::string& message, int64_t retry_after_ms = 0) {
  rpc::Error e;
  e.set_code(code);
  e.set_message(message);
  e.set_retry_after_ms(retry_after_ms);
  return e;
}

using logic::testing::Method;

// Answers every upgrade with a fixed response so the client can tell that
// the connection reached the connect tier.
class FakeUpgrades final : public connect::UpgradeHandler {
 public:
  void Upgrade(beast::tcp_stream stream, http::request<http::string_body> request,
               beast::flat_buffer) override {
    {
      std::lock_guard lock(mu_);
      target_ = std::string(request.target());
      request_id_ = std::string(request["X-Request-Id"]);
    }
    boost::system::error_code ec;
    asio::write(stream.socket(),
                asio::buffer(std::string_view("HTTP/1.1 418 Upgraded\r\nContent-Length: 0\r\n"
                                              "Connection: close\r\n\r\n")),
                ec);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  std::string target() {
    std::lock_guard lock(mu_);
    return target_;
  }
  std::string request_id() {
    std::lock_guard lock(mu_);
    return request_id_;
  }

 private:
  std::mutex mu_;
  std::string target_;
  std::string request_id_;
};

using Res = http::response<http::string_body>;

// A blocking HTTP/1.1 client on its own connection.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  Res Do(http::verb method, const std::string& target, const std::string& body = "",
         const std::string& content_type = "application/json",
         std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!content_type.empty() && (!body.empty() || method == http::verb::post)) {
      req.set(http::field::content_type, content_type);
    }
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    stream_.expires_after(std::chrono::seconds(10));
    http::write(stream_, req);
    return Read(method == http::verb::head);
  }

  Res Read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    parser.body_limit(16 * 1024 * 1024);
    stream_.expires_after(std::chrono::seconds(10));
    http::read(stream_, buffer_, parser);
    return parser.release();
  }

  // True when the server closed the connection (EOF within 5 s).
  bool ServerClosed() {
    stream_.expires_after(std::chrono::seconds(5));
    char c;
    boost::system::error_code ec;
    stream_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  beast::tcp_stream& stream() { return stream_; }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

json::object BodyJson(const Res& res) {
  boost::system::error_code ec;
  json::value v = json::parse(res.body(), ec);
  EXPECT_FALSE(ec) << res.body();
  return v.is_object() ? v.get_object() : json::object{};
}

std::string ErrorCode(const Res& res) {
  json::object o = BodyJson(res);
  if (!o.contains("error")) return "<no error>";
  return std::string(o.at("error").at("code").as_string());
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logic_.AddToken("good", 7, "key-7");
    logic_.AddToken("eight", 8, "key-8");
    logic_.AddToken("nine", 9, "key-9");
    logic_.AddUser("taken", "secret12");
    logic_.AddUser("bob", "secret12");
  }

  // The deadline every call of a request gets (the clock does not move).
  int64_t Deadline() const { return clock_.NowMs() + options_.conn.http_logic_timeout_ms; }

  void StartServer() {
    server_ = std::make_unique<HttpServer>(ioc_.get_executor(), options_, logic_, discovery_,
                                           upgrades_, metrics_, clock_);
    ASSERT_OK(server_->Listen("127.0.0.1:0"));
    ASSERT_NE(server_->port(), 0);
    server_->Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (server_) server_->StopAccepting();
    server_.reset();
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  uint16_t port() const { return server_->port(); }

  Res Fetch(http::verb method, const std::string& target, const std::string& body = "",
            std::vector<std::pair<std::string, std::string>> headers = {},
            const std::string& content_type = "application/json") {
    Client client(port());
    return client.Do(method, target, body, content_type, std::move(headers));
  }

  static std::vector<std::pair<std::string, std::string>> Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  Options options_;
  ManualClock clock_;
  logic::testing::FakeLogic logic_{clock_};
  FakeUpgrades upgrades_;
  Metrics metrics_;
  testing::TempDir dir_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      ioc_.get_executor()};
  discovery::MemoryDiscovery discovery_{ioc_.get_executor()};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpServerTest, HealthzAndRequestIds) {
  StartServer();
  Res res = Fetch(http::verb::get, "/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(BodyJson(res).at("status").as_string(), "ok");
  EXPECT_EQ(res[http::field::server], "parley");
  EXPECT_EQ(res["X-Request-Id"].size(), 16u);

  res = Fetch(http::verb::get, "/healthz", "", {{"X-Request-Id", "trace-1.2_3"}});
  EXPECT_EQ(res["X-Request-Id"], "trace-1.2_3");
  res = Fetch(http::verb::get, "/healthz", "", {{"X-Request-Id", "bad id with spaces"}});
  EXPECT_EQ(res["X-Request-Id"].size(), 16u);
}

TEST_F(HttpServerTest, RegisterTranslatesBothWays) {
  StartServer();
  Res res =
      Fetch(http::verb::post, "/api/v1/users", R"({"username":"alice","password":"secret12"})",
            {{"X-Request-Id", "rid-register"}});
  ASSERT_EQ(res.result_int(), 201) << res.body();
  json::object o = BodyJson(res);
  EXPECT_GT(o.at("user_id").to_number<uint64_t>(), 0u);
  EXPECT_EQ(o.at("username").as_string(), "alice");
  auto req = logic_.Last<rpc::RegisterRequest>();
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->req.username(), "alice");
  EXPECT_EQ(req->req.password(), "secret12");
  EXPECT_EQ(req->ctx.client_ip, "127.0.0.1");
  EXPECT_EQ(req->ctx.request_id, "rid-register");
  EXPECT_EQ(req->ctx.deadline_ms, Deadline());
  EXPECT_TRUE(req->ctx.token.empty());

  res = Fetch(http::verb::post, "/api/v1/users", R"({"username":"taken","password":"secret12"})");
  EXPECT_EQ(res.result_int(), 409);
  EXPECT_EQ(ErrorCode(res), "already_exists");
}

TEST_F(HttpServerTest, UnsupportedMediaType) {
  StartServer();
  const std::string body = R"({"username":"alice","password":"secret12"})";
  Res res = Fetch(http::verb::post, "/api/v1/users", body, {}, "text/plain");
  EXPECT_EQ(res.result_int(), 415);
  EXPECT_EQ(ErrorCode(res), "unsupported_media_type");
  res = Fetch(http::verb::post, "/api/v1/users", body, {}, "application/jsonx");
  EXPECT_EQ(res.result_int(), 415);
  res = Fetch(http::verb::post, "/api/v1/users", body, {}, "");
  EXPECT_EQ(res.result_int(), 415);
  res = Fetch(http::verb::post, "/api/v1/users", body, {}, "Application/JSON; charset=utf-8");
  EXPECT_EQ(res.result_int(), 201) << res.body();
}

TEST_F(HttpServerTest, PayloadTooLargeAnswersThenCloses) {
  options_.limits.request_body_max = 1024;
  StartServer();
  Client client(port());
  std::string body = R"({"username":"alice","password":")" + std::string(2000, 'x') + "\"}";
  Res res = client.Do(http::verb::post, "/api/v1/users", body);
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_EQ(ErrorCode(res), "payload_too_large");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_FALSE(logic_.Last<rpc::RegisterRequest>().has_value());

  // Just under the limit is served.
  std::string fits = R"({"username":"alice","password":")" + std::string(900, 'x') + "\"}";
  EXPECT_EQ(Fetch(http::verb::post, "/api/v1/users", fits).result_int(), 201);
}

TEST_F(HttpServerTest, BadBodiesAreInvalidArgumentNamingTheField) {
  StartServer();
  struct Case {
    const char* body;
    const char* needle;
  };
  for (const Case& c : {Case{R"({"username":5,"password":"secret12"})", "username"},
                        Case{R"({"username":"alice"})", "password"},
                        Case{R"({"username":"alice","password":"x",)", "malformed JSON"},
                        Case{R"(["alice"])", "JSON object"}, Case{"", "malformed JSON"}}) {
    Res res = Fetch(http::verb::post, "/api/v1/users", c.body);
    EXPECT_EQ(res.result_int(), 400) << c.body;
    EXPECT_EQ(ErrorCode(res), "invalid_argument");
    std::string message(BodyJson(res).at("error").at("message").as_string());
    EXPECT_NE(message.find(c.needle), std::string::npos) << message;
  }
  for (const char* body :
       {R"({"id":"c1","to_user":1.5,"body":"x"})", R"({"id":"c1","to_user":-3,"body":"x"})",
        R"({"id":"c1","to_user":"3","body":"x"})",
        R"({"id":"c1","to_user":9007199254740992,"body":"x"})"}) {
    Res res = Fetch(http::verb::post, "/api/v1/messages", body, Bearer("good"));
    EXPECT_EQ(res.result_int(), 400) << body;
    std::string message(BodyJson(res).at("error").at("message").as_string());
    EXPECT_NE(message.find("to_user"), std::string::npos) << message;
  }
  Res res = Fetch(http::verb::post, "/api/v1/messages",
                  R"({"id":"c1","to_user":3,"to_group":4,"body":"x"})", Bearer("good"));
  EXPECT_EQ(res.result_int(), 400);
  res = Fetch(http::verb::get, "/api/v1/groups/abc", "", Bearer("good"));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_NE(res.body().find("group_id"), std::string::npos);
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowed) {
  StartServer();
  Res res = Fetch(http::verb::get, "/api/v1/nope");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(ErrorCode(res), "not_found");
  res = Fetch(http::verb::get, "/index.html");  // no web root: API only
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(ErrorCode(res), "not_found");

  res = Fetch(http::verb::put, "/api/v1/users", "{}");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(ErrorCode(res), "method_not_allowed");
  EXPECT_EQ(res[http::field::allow], "GET, HEAD, POST");
}

TEST_F(HttpServerTest, RateLimitedCarriesRetryAfter) {
  logic_.Script<rpc::SendBatch, rpc::SendBatchReply>(
      [](const logic::CallContext&, const rpc::SendBatch& batch) {
        rpc::SendBatchReply reply;
        for (int i = 0; i < batch.requests_size(); ++i) {
          *reply.add_replies()->mutable_error() = Err(rpc::RATE_LIMITED, "too many messages", 1500);
        }
        return reply;
      });
  StartServer();
  Res res = Fetch(http::verb::post, "/api/v1/messages",
                  R"({"id":"c1","to_user":9,"body":"slow down"})", Bearer("good"));
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(ErrorCode(res), "rate_limited");
  EXPECT_EQ(res[http::field::retry_after], "2");  // 1500 ms rounded up
}

TEST_F(HttpServerTest, SendIsOneCallCarryingTheToken) {
  StartServer();
  Res res = Fetch(http::verb::post, "/api/v1/messages", R"({"id":"c1","to_user":9,"body":"hello"})",
                  {{"Authorization", "Bearer good"}, {"X-Request-Id", "rid-send"}});
  ASSERT_EQ(res.result_int(), 200) << res.body();
  ASSERT_EQ(logic_.accepted().size(), 1u);
  const rpc::ChatMessage m = logic_.accepted()[0];
  EXPECT_EQ(res.body(), R"({"id":"c1","msg_id":")" + std::to_string(m.msg_id()) +
                            R"(","conv":"p:7:9","seq":1,"ts":)" + std::to_string(m.ts()) + "}");
  EXPECT_EQ(m.from(), 7u);
  EXPECT_EQ(m.to_user(), 9u);
  EXPECT_EQ(m.body(), "hello");
  EXPECT_TRUE(m.origin_node().empty()) << "an HTTP send has no origin connection";
  auto call = logic_.Last<rpc::SendBatch>();
  ASSERT_TRUE(call.has_value());
  ASSERT_EQ(call->req.requests_size(), 1);
  EXPECT_EQ(call->req.requests(0).client_id(), "c1");
  EXPECT_EQ(call->req.requests(0).to_group(), 0u);
  EXPECT_EQ(call->ctx.token, "good");
  EXPECT_EQ(call->ctx.request_id, "rid-send");
  EXPECT_EQ(call->ctx.client_ip, "127.0.0.1");
  EXPECT_EQ(call->ctx.deadline_ms, Deadline());
  EXPECT_EQ(logic_.call_count(Method::kAuth), 0u) << "no Auth call before the operation";
  EXPECT_EQ(logic_.call_count(Method::kSend), 1u);

  res = Fetch(http::verb::post, "/api/v1/messages", R"({"id":"c2","to_group":5,"body":"all"})",
              Bearer("good"));
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(logic_.Last<rpc::SendBatch>()->req.requests(0).to_group(), 5u);
}

TEST_F(HttpServerTest, Unauthenticated) {
  StartServer();
  Res res = Fetch(http::verb::get, "/api/v1/users/me");
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(ErrorCode(res), "unauthenticated");
  res = Fetch(http::verb::get, "/api/v1/users/me", "", Bearer("bad"));
  EXPECT_EQ(res.result_int(), 401);
  res = Fetch(http::verb::get, "/api/v1/users/me", "", {{"Authorization", "Basic Z29vZA=="}});
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(logic_.call_count(Method::kGetUser), 1u) << "only the bad token reached logic";
  res = Fetch(http::verb::get, "/api/v1/users/me", "", {{"Authorization", "bearer   good"}});
  ASSERT_EQ(res.result_int(), 200);
  json::object o = BodyJson(res);
  EXPECT_EQ(o.at("user_id").to_number<uint64_t>(), 7u);
  EXPECT_EQ(o.at("username").as_string(), "user7");
  EXPECT_EQ(o.at("online").as_bool(), false);
  auto me = logic_.Last<rpc::GetUserRequest>();
  EXPECT_EQ(me->req.user_id(), 0u) << "neither id nor name: the caller";
  EXPECT_TRUE(me->req.username().empty());
  EXPECT_EQ(me->ctx.token, "good");
  EXPECT_EQ(logic_.call_count(Method::kAuth), 0u);
}

TEST_F(HttpServerTest, HistoryQueryTranslation) {
  StartServer();
  logic::CallContext nine;
  nine.token = "nine";
  rpc::SendBatch batch;
  for (int i = 1; i <= 8; ++i) {
    rpc::SendRequest* r = batch.add_requests();
    r->set_client_id("c" + std::to_string(i));
    r->set_to_user(7);
    r->set_body("m" + std::to_string(i));
  }
  parley::testing::Wait<rpc::SendBatchReply>([&](auto cb) { logic_.Send(nine, batch, cb); });

  Res res = Fetch(http::verb::get, "/api/v1/conversations/p%3A7%3A9/messages?after_seq=5&limit=2",
                  "", Bearer("good"));
  ASSERT_EQ(res.result_int(), 200) << res.body();
  auto req = logic_.Last<rpc::SyncRequest>();
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->req.conv(), "p:7:9");
  EXPECT_EQ(req->ctx.token, "good");
  EXPECT_TRUE(req->req.has_after());
  EXPECT_EQ(req->req.after_seq(), 5u);
  EXPECT_EQ(req->req.limit(), 2u);
  json::object o = BodyJson(res);
  EXPECT_TRUE(o.at("has_more").as_bool());
  ASSERT_EQ(o.at("messages").as_array().size(), 2u);
  const json::object& m = o.at("messages").as_array().at(0).as_object();
  const rpc::ChatMessage sent = logic_.accepted()[5];
  EXPECT_EQ(m.at("msg_id").as_string(), std::to_string(sent.msg_id()));
  EXPECT_EQ(m.at("seq").to_number<uint64_t>(), 6u);
  EXPECT_EQ(m.at("to_user").to_number<uint64_t>(), 7u);
  EXPECT_FALSE(m.contains("to_group"));
  EXPECT_EQ(m.at("id").as_string(), "c6");
  EXPECT_EQ(m.at("from").to_number<uint64_t>(), 9u);

  res = Fetch(http::verb::get, "/api/v1/conversations/p:7:9/messages?before_seq=3", "",
              Bearer("good"));
  ASSERT_EQ(res.result_int(), 200);
  req = logic_.Last<rpc::SyncRequest>();
  EXPECT_FALSE(req->req.has_after());
  EXPECT_EQ(req->req.before_seq(), 3u);
  EXPECT_EQ(req->req.limit(), options_.limits.page_limit_default);
  EXPECT_EQ(BodyJson(res).at("messages").as_array().size(), 2u);

  for (const char* query : {"limit=0", "limit=201", "limit=abc", "limit=", "after_seq=-1",
                            "before_seq=0", "after_seq=1&before_seq=5"}) {
    res = Fetch(http::verb::get, std::string("/api/v1/conversations/g:5/messages?") + query, "",
                Bearer("good"));
    EXPECT_EQ(res.result_int(), 400) << query;
    EXPECT_EQ(ErrorCode(res), "invalid_argument") << query;
  }
  res = Fetch(http::verb::get, "/api/v1/conversations/p:9:7/messages", "", Bearer("good"));
  EXPECT_EQ(res.result_int(), 400);  // not canonical
}

TEST_F(HttpServerTest, ConversationsMostRecentFirst) {
  logic_.Script<rpc::ListConversationsRequest, rpc::ListConversationsReply>(
      [](const logic::CallContext&, const rpc::ListConversationsRequest&) {
        rpc::ListConversationsReply reply;
        rpc::ConvState* older = reply.add_convs();
        older->set_conv("p:7:9");
        older->set_last_seq(10);
        older->set_read_seq(4);
        older->set_peer(9);
        older->set_last_ts(100);
        rpc::ConvState* newer = reply.add_convs();
        newer->set_conv("g:5");
        newer->set_last_seq(3);
        newer->set_read_seq(3);
        newer->set_group_id(5);
        newer->set_last_ts(200);
        return reply;
      });
  StartServer();
  Res res = Fetch(http::verb::get, "/api/v1/conversations", "", Bearer("good"));
  ASSERT_EQ(res.result_int(), 200);
  json::object body = BodyJson(res);
  const json::array& convs = body.at("conversations").as_array();
  ASSERT_EQ(convs.size(), 2u);
  EXPECT_EQ(convs[0].at("conv").as_string(), "g:5");
  EXPECT_EQ(convs[0].at("group_id").to_number<uint64_t>(), 5u);
  EXPECT_EQ(convs[0].at("unread").to_number<uint64_t>(), 0u);
  EXPECT_FALSE(convs[0].as_object().contains("peer"));
  EXPECT_EQ(convs[1].at("conv").as_string(), "p:7:9");
  EXPECT_EQ(convs[1].at("peer").to_number<uint64_t>(), 9u);
  EXPECT_EQ(convs[1].at("unread").to_number<uint64_t>(), 6u);
}

TEST_F(HttpServerTest, GroupsAndMembership) {
  StartServer();
  Res res = Fetch(http::verb::post, "/api/v1/groups", R"({"name":"team","members":[8,9]})",
                  Bearer("good"));
  ASSERT_EQ(res.result_int(), 201) << res.body();
  json::object o = BodyJson(res);
  EXPECT_EQ(o.at("owner").to_number<uint64_t>(), 7u);
  EXPECT_EQ(o.at("members").as_array().size(), 3u);
  EXPECT_EQ(logic_.Last<rpc::CreateGroupRequest>()->ctx.token, "good");
  const std::string group = std::to_string(o.at("group_id").to_number<uint64_t>());
  res = Fetch(http::verb::post, "/api/v1/groups/" + group + "/members", R"({"user_id":8})",
              Bearer("good"));
  EXPECT_EQ(res.result_int(), 204);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(logic_.Last<rpc::AddMemberRequest>()->req.user_id(), 8u);
  res = Fetch(http::verb::post, "/api/v1/groups/404/members", R"({"user_id":8})", Bearer("good"));
  EXPECT_EQ(res.result_int(), 404);
  res = Fetch(http::verb::delete_, "/api/v1/groups/" + group + "/members/9", "", Bearer("eight"));
  EXPECT_EQ(res.result_int(), 403);
  EXPECT_EQ(ErrorCode(res), "permission_denied");
  auto remove = logic_.Last<rpc::RemoveMemberRequest>();
  EXPECT_EQ(std::to_string(remove->req.group_id()), group);
  EXPECT_EQ(remove->req.user_id(), 9u);
  EXPECT_EQ(remove->ctx.token, "eight");
}

TEST_F(HttpServerTest, InternalErrorsDoNotLeak) {
  logic_.Script<rpc::GetGroupRequest, rpc::GroupReply>(
      [](const logic::CallContext&, const rpc::GetGroupRequest&) {
        rpc::GroupReply reply;
        *reply.mutable_error() = Err(rpc::INTERNAL, "sqlite: disk I/O error at /secret/path");
        return reply;
      });
  StartServer();
  Res res = Fetch(http::verb::get, "/api/v1/groups/5", "", Bearer("good"));
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(ErrorCode(res), "internal");
  EXPECT_EQ(res.body().find("secret"), std::string::npos) << res.body();
}

TEST_F(HttpServerTest, LoginLogoutAndLookup) {
  StartServer();
  Res res =
      Fetch(http::verb::post, "/api/v1/sessions", R"({"username":"bob","password":"secret12"})");
  ASSERT_EQ(res.result_int(), 200) << res.body();
  const std::string token(BodyJson(res).at("token").as_string());
  EXPECT_FALSE(token.empty());
  EXPECT_GT(BodyJson(res).at("expires_at").to_number<int64_t>(), clock_.NowMs());
  EXPECT_EQ(logic_.Last<rpc::LoginRequest>()->ctx.client_ip, "127.0.0.1");

  res = Fetch(http::verb::get, "/api/v1/users?username=b%6Fb", "", Bearer(token));
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(BodyJson(res).at("username").as_string(), "bob");
  EXPECT_EQ(logic_.Last<rpc::GetUserRequest>()->req.username(), "bob");
  res = Fetch(http::verb::get, "/api/v1/users", "", Bearer(token));
  EXPECT_EQ(res.result_int(), 400);

  res = Fetch(http::verb::delete_, "/api/v1/sessions", "", Bearer(token));
  EXPECT_EQ(res.result_int(), 204);
  EXPECT_EQ(logic_.Last<rpc::LogoutRequest>()->ctx.token, token);
  res = Fetch(http::verb::get, "/api/v1/users/me", "", Bearer(token));
  EXPECT_EQ(res.result_int(), 401) << "the token stops working at once";
}

TEST_F(HttpServerTest, ReadyzAndEndpointsButNoMetrics) {
  auto register_node = [&](const char* id, const char* url, uint64_t load) {
    discovery::NodeInfo node{id, "connect", "127.0.0.1:1", url, load};
    return parley::testing::Wait<StatusOr<std::unique_ptr<discovery::Registration>>>(
        [&](auto cb) { discovery_.Register(node, 10'000, cb); });
  };
  auto c1 = register_node("c1", "ws://127.0.0.1:9001/ws", 5);
  auto c2 = register_node("c2", "ws://127.0.0.1:9002/ws", 1);
  ASSERT_TRUE(c1.ok() && c2.ok());
  StartServer();
  Res res = Fetch(http::verb::get, "/readyz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(BodyJson(res).at("status").as_string(), "ready");
  logic_.SetReady(Status::Unavailable("store: database is locked"));
  res = Fetch(http::verb::get, "/readyz");
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(ErrorCode(res), "unavailable");
  // Not ready, and not why: the reason may quote the store.
  EXPECT_EQ(BodyJson(res).at("error").at("message").as_string(), "not ready");
  EXPECT_EQ(res.body().find("store"), std::string::npos) << res.body();

  res = Fetch(http::verb::get, "/api/v1/endpoints");
  ASSERT_EQ(res.result_int(), 200);
  json::object body = BodyJson(res);
  const json::array& urls = body.at("websocket").as_array();
  ASSERT_EQ(urls.size(), 2u);
  EXPECT_EQ(urls[0].as_string(), "ws://127.0.0.1:9002/ws");
  EXPECT_EQ(urls[1].as_string(), "ws://127.0.0.1:9001/ws");

  // /metrics is on the admin port only (connect::WsListener::Admin).
  res = Fetch(http::verb::get, "/metrics");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res.body().find("parley_"), std::string::npos) << res.body();
  EXPECT_EQ(metrics_.http_requests.value(), 4u);
  EXPECT_NE(metrics_.Render().find("parley_errors_total{code=\"unavailable\"} 1\n"),
            std::string::npos);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  Client client(port());
  for (int i = 0; i < 3; ++i) {
    Res res = client.Do(http::verb::get, "/healthz");
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
  }
  Res res = client.Do(http::verb::get, "/healthz", "", "", {{"Connection", "close"}});
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(HttpServerTest, WebSocketUpgradeIsHandedOver) {
  StartServer();
  Client client(port());
  Res res = client.Do(http::verb::get, "/ws?token=abc", "", "",
                      {{"Connection", "Upgrade"},
                       {"Upgrade", "websocket"},
                       {"Sec-WebSocket-Version", "13"},
                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                       {"X-Request-Id", "ws-rid"}});
  EXPECT_EQ(res.result_int(), 418);
  EXPECT_EQ(upgrades_.target(), "/ws?token=abc");
  EXPECT_EQ(upgrades_.request_id(), "ws-rid");

  res = Fetch(http::verb::get, "/ws");
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(ErrorCode(res), "invalid_argument");
}

TEST_F(HttpServerTest, StopAcceptingClosesIdleConnectionsAndRefusesNewOnes) {
  options_.conn.http_idle_timeout_ms = 60'000;
  StartServer();
  Client idle(port());
  EXPECT_EQ(idle.Do(http::verb::get, "/healthz").result_int(), 200);
  uint16_t p = port();
  server_->StopAccepting();
  EXPECT_TRUE(idle.ServerClosed());
  asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  // The listening socket is closed on the server's strand; allow it a moment
  // (meanwhile a connect may be accepted, or reset by the closing listener).
  for (int i = 0; i < 50; ++i) {
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), p), ec);
    if (ec == asio::error::connection_refused) break;
    s.close();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ec, asio::error::connection_refused);
}

// Raw bytes on a fresh connection; returns everything the server sends until
// it closes (or 5 s pass).
std::string RawExchange(uint16_t port, const std::string& first,
                        const std::string& after_continue = "") {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(s, asio::buffer(first));
  std::string got;
  boost::system::error_code ec;
  char buf[4096];
  if (!after_continue.empty()) {
    while (got.find("\r\n\r\n") == std::string::npos) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) return got;
      got.append(buf, n);
    }
    EXPECT_EQ(got.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << got;
    asio::write(s, asio::buffer(after_continue));
  }
  for (;;) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  return got;
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimResponse) {
  StartServer();
  const std::string body = R"({"username":"carol","password":"secret12"})";
  std::string got =
      RawExchange(port(),
                  "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n",
                  body);
  EXPECT_NE(got.find("HTTP/1.1 201 Created\r\n"), std::string::npos) << got;
  EXPECT_EQ(logic_.Last<rpc::RegisterRequest>()->req.username(), "carol");
}

TEST_F(HttpServerTest, MalformedHttpIsBadRequest) {
  StartServer();
  std::string got = RawExchange(port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("\"invalid_argument\""), std::string::npos) << got;
}

TEST_F(HttpServerTest, IdleConnectionsTimeOut) {
  options_.conn.http_idle_timeout_ms = 200;
  StartServer();
  Client client(port());
  EXPECT_EQ(client.Do(http::verb::get, "/healthz").result_int(), 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

class HttpServerStaticTest : public HttpServerTest {
 protected:
  void SetUp() override {
    std::filesystem::path root = std::filesystem::path(dir_.path()) / "web";
    std::filesystem::create_directories(root);
    std::ofstream(root / "index.html") << "<!doctype html><title>Parley</title>";
    std::ofstream(root / "app.js") << "console.log('parley')";
    std::ofstream(std::filesystem::path(dir_.path()) / "secret.txt") << "secret";
    options_.web_root = root.string();
  }
};

TEST_F(HttpServerStaticTest, ServesFilesWithEtags) {
  StartServer();
  Res res = Fetch(http::verb::get, "/");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "<!doctype html><title>Parley</title>");
  EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res[http::field::cache_control], "no-cache");
  std::string etag(res[http::field::etag]);
  ASSERT_FALSE(etag.empty());
  EXPECT_NE(etag.rfind("W/", 0), 0u);

  res = Fetch(http::verb::get, "/", "", {{"If-None-Match", etag}});
  EXPECT_EQ(res.result_int(), 304);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(res[http::field::etag], etag);

  res = Fetch(http::verb::get, "/app.js");
  EXPECT_EQ(res[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(Fetch(http::verb::get, "/app.js", "", {{"If-None-Match", etag}}).result_int(), 200);

  Client head(port());
  res = head.Do(http::verb::head, "/app.js");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_length], "21");
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(head.Do(http::verb::get, "/healthz").result_int(), 200);  // framing intact

  EXPECT_EQ(Fetch(http::verb::post, "/app.js", "{}").result_int(), 405);
}

TEST_F(HttpServerStaticTest, PagesCarryAContentSecurityPolicyAndEveryResponseTheOtherHeaders) {
  options_.public_ws_url = "wss://chat.example.org/ws";
  discovery::NodeInfo node{"c1", "connect", "127.0.0.1:1", "ws://127.0.0.1:9002/ws", 0};
  auto reg = parley::testing::Wait<StatusOr<std::unique_ptr<discovery::Registration>>>(
      [&](auto cb) { discovery_.Register(node, 10'000, cb); });
  ASSERT_TRUE(reg.ok());
  StartServer();
  Res page = Fetch(http::verb::get, "/", "", {{"Host", "127.0.0.1:8080"}});
  ASSERT_EQ(page.result_int(), 200);
  EXPECT_EQ(page["Content-Security-Policy"],
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080 "
            "wss://chat.example.org ws://127.0.0.1:9002; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'");
  // The API, the scripts, errors and probes: a policy that allows nothing.
  for (const char* target : {"/app.js", "/healthz", "/api/v1/nope", "/nope.html"}) {
    Res res = Fetch(http::verb::get, target);
    EXPECT_EQ(res["Content-Security-Policy"], "default-src 'none'; frame-ancestors 'none'")
        << target;
  }
  for (const char* target : {"/", "/app.js", "/healthz", "/api/v1/nope"}) {
    Res res = Fetch(http::verb::get, target);
    EXPECT_EQ(res["X-Frame-Options"], "DENY") << target;
    EXPECT_EQ(res["Referrer-Policy"], "no-referrer") << target;
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff") << target;
  }
}

TEST(WebClientCspTest, OnlyPlainHostsAndWebSocketOriginsGetIn) {
  const std::string tail =
      "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
  const std::string head =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; ";
  EXPECT_EQ(WebClientCsp("", {}), head + "connect-src 'self'" + tail);
  // A Host header that would add a directive, or URLs of other schemes.
  EXPECT_EQ(WebClientCsp("evil; script-src *", {"http://x.org/ws", "javascript:alert(1)", "ws://"}),
            head + "connect-src 'self'" + tail);
  EXPECT_EQ(WebClientCsp("[::1]:80", {"ws://[::1]:80/ws?x=1", "wss://a.b:443/ws"}),
            head + "connect-src 'self' ws://[::1]:80 wss://[::1]:80 wss://a.b:443" + tail);
}

TEST_F(HttpServerStaticTest, NeverServesOutsideTheRoot) {
  StartServer();
  for (const char* target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/nope.html", "/app.js/"}) {
    Res res = Fetch(http::verb::get, target);
    EXPECT_EQ(res.result_int(), 404) << target;
    EXPECT_EQ(ErrorCode(res), "not_found") << target;
    EXPECT_EQ(res.body().find("secret\""), std::string::npos);
  }
}

}  // namespace
}  // namespace parley::api

namespace parley::api {
namespace {

// Issue 10, finding 7: X-Forwarded-For names the client only when the peer
// is a trusted proxy; otherwise a client could pick its own rate-limit key.
TEST_F(HttpServerTest, XForwardedForIsIgnoredFromAnUntrustedPeer) {
  StartServer();
  Fetch(http::verb::post, "/api/v1/sessions", R"({"username":"bob","password":"secret12"})",
        {{"X-Forwarded-For", "198.51.100.7"}});
  EXPECT_EQ(logic_.Last<rpc::LoginRequest>()->ctx.client_ip, "127.0.0.1");
}

TEST_F(HttpServerTest, BehindATrustedProxyTheClientIsTheRightmostUntrustedForwardedAddress) {
  options_.http.trusted_proxies = {"127.0.0.0/8", "10.0.0.0/8"};
  StartServer();
  Fetch(http::verb::post, "/api/v1/sessions", R"({"username":"bob","password":"secret12"})",
        {{"X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.1.1.1"}});
  EXPECT_EQ(logic_.Last<rpc::LoginRequest>()->ctx.client_ip, "198.51.100.7");
  // A field of the client's own ahead of the proxy's is read as the list it is.
  Fetch(http::verb::post, "/api/v1/sessions", R"({"username":"bob","password":"secret12"})",
        {{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "198.51.100.8"}});
  EXPECT_EQ(logic_.Last<rpc::LoginRequest>()->ctx.client_ip, "198.51.100.8");
}

TEST_F(HttpServerTest, ABadTrustedProxyIsRefusedAtStart) {
  options_.http.trusted_proxies = {"10.0.0.0/99"};
  HttpServer server(ioc_.get_executor(), options_, logic_, discovery_, upgrades_, metrics_, clock_);
  EXPECT_EQ(server.Listen("127.0.0.1:0").code(), Code::kInvalidArgument);
}

// Issue 10, finding 7: a full password hasher queue is 503 with Retry-After.
TEST_F(HttpServerTest, ABusyLoginIs503WithRetryAfter) {
  logic_.Script<rpc::LoginRequest, rpc::LoginReply>(
      [](const logic::CallContext&, const rpc::LoginRequest&) {
        rpc::LoginReply reply;
        *reply.mutable_error() = Err(rpc::UNAVAILABLE, "too many logins in progress", 1000);
        return reply;
      });
  StartServer();
  Res res =
      Fetch(http::verb::post, "/api/v1/sessions", R"({"username":"bob","password":"secret12"})");
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(ErrorCode(res), "unavailable");
  EXPECT_EQ(res[http::field::retry_after], "1");
}

}  // namespace
}  // namespace parley::api

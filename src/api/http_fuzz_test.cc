// Randomized robustness of the HTTP request path, after the frame fuzz test
// (connect/frame_codec_fuzz_test.cc): whatever a client sends, the public
// port answers a well-formed response whose status is not a 5xx (garbage is
// the client's fault, never the server's), with the protocol's JSON error
// body for every 4xx, and it never crashes or reads out of bounds (this runs
// under ASan+UBSan in CI). Seeded generators: repeatable, and a failure
// prints the request.
//  - Handlers: requests built from mutated methods, targets, query strings,
//    headers and JSON bodies go straight through ApiHandlers (router,
//    parsing, every endpoint) against the fake logic tier.
//  - Wire: mutated raw requests go over TCP through the HttpServer's parser.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include "api/api_handlers.h"
#include "api/http_server.h"
#include "discovery/memory/memory_discovery.h"
#include "logic/testing/fake_logic.h"
#include "support/fuzz_mutator.h"
#include "support/test_util.h"

namespace parley::api {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// Byte-level edits plus splices of tokens that reach deep into parsers.
std::string Mutate(std::string s, std::mt19937_64& rng, int max_edits = 4) {
  static constexpr std::string_view kTokens[] = {"null",
                                                 "true",
                                                 "[]",
                                                 "{}",
                                                 "-1",
                                                 "1e309",
                                                 "9007199254740993",
                                                 "18446744073709551616",
                                                 "0.5",
                                                 "\"\"",
                                                 "\"\\u0000\"",
                                                 "\"\\ud800\"",
                                                 "[[[[[[[[",
                                                 "}}}}",
                                                 ",",
                                                 ":",
                                                 "%",
                                                 "%zz",
                                                 "%00",
                                                 "%2F",
                                                 "..",
                                                 "//",
                                                 "?",
                                                 "&",
                                                 "=",
                                                 "#",
                                                 "\xff",
                                                 "\xc3",
                                                 " ",
                                                 "\t",
                                                 "\r\n"};
  return parley::testing::Mutate(std::move(s), rng, kTokens, max_edits);
}

template <typename T>
const T& Pick(const std::vector<T>& v, std::mt19937_64& rng) {
  return v[rng() % v.size()];
}

const std::vector<std::string> kTargets = {
    "/api/v1/users",
    "/api/v1/users?username=bob",
    "/api/v1/users/me",
    "/api/v1/users/7",
    "/api/v1/users/18446744073709551615",
    "/api/v1/sessions",
    "/api/v1/groups",
    "/api/v1/groups/1",
    "/api/v1/groups/1/members",
    "/api/v1/groups/1/members/8",
    "/api/v1/conversations",
    "/api/v1/conversations/p:7:8/messages",
    "/api/v1/conversations/p:7:8/messages?after_seq=0&limit=5",
    "/api/v1/conversations/g:1/messages?before_seq=9007199254740993",
    "/api/v1/messages",
    "/api/v1/endpoints",
    "/healthz",
    "/readyz",
    "/metrics",
    "/ws",
    "/",
    "/index.html",
    "/app.js",
};

const std::vector<std::string> kBodies = {
    R"({"username":"fuzzer","password":"secret12"})",
    R"({"username":"bob","password":"secret12"})",
    R"({"name":"g","members":[8,9]})",
    R"({"user_id":9})",
    R"({"id":"c1","to_user":8,"body":"hello"})",
    R"({"id":"c2","to_group":1,"body":"h\u00e9llo"})",
    "",
    "{}",
    "[]",
};

const std::vector<http::verb> kVerbs = {
    http::verb::get, http::verb::post,  http::verb::delete_, http::verb::head,
    http::verb::put, http::verb::patch, http::verb::options, http::verb::connect};

const std::vector<std::string> kAuthorizations = {"Bearer good",
                                                  "Bearer eight",
                                                  "Bearer nope",
                                                  "Bearer ",
                                                  "Basic Z29vZA==",
                                                  "bearer good",
                                                  "",
                                                  "Bearer good good"};

const std::vector<std::string> kContentTypes = {
    "application/json", "application/json; charset=utf-8", "text/plain", "", "application/jsonx"};

class HttpFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logic_.AddToken("good", 7, "key-7");
    logic_.AddToken("eight", 8, "key-8");
    logic_.AddUser("bob", "secret12");
    std::filesystem::path root = std::filesystem::path(dir_.path()) / "web";
    std::filesystem::create_directories(root);
    std::ofstream(root / "index.html") << "<!doctype html><title>Parley</title>";
    std::ofstream(root / "app.js") << "console.log('parley')";
    options_.web_root = root.string();
  }

  Options options_;
  ManualClock clock_;
  logic::testing::FakeLogic logic_{clock_};
  Metrics metrics_;
  testing::TempDir dir_;
};

// A success or a 4xx, and every 4xx with the JSON error body
// {"error":{"code","message"}}.
void CheckResponse(const Response& res, const std::string& what) {
  const unsigned status = res.result_int();
  ASSERT_TRUE(status == 200 || status == 201 || status == 204 || status == 304 ||
              (status >= 400 && status < 500))
      << status << " for " << what << "\n"
      << res.body();
  if (status >= 400) {
    boost::system::error_code ec;
    boost::json::value body = boost::json::parse(res.body(), ec);
    ASSERT_FALSE(ec) << what << "\n" << res.body();
    const auto* code =
        body.is_object() && body.as_object().contains("error") && body.at("error").is_object()
            ? body.at("error").as_object().if_contains("code")
            : nullptr;
    ASSERT_TRUE(code != nullptr && code->is_string()) << what << "\n" << res.body();
  }
}

TEST_F(HttpFuzzTest, MutatedRequestsThroughTheHandlersGetA4xxNeverA5xx) {
  asio::io_context ioc;
  discovery::MemoryDiscovery discovery(ioc.get_executor());
  auto files = StaticFiles::Load(options_.web_root);
  ASSERT_TRUE(files.ok());
  ApiHandlers handlers(options_, logic_, discovery, metrics_, clock_, std::move(files).value());
  std::mt19937_64 rng(20261201);
  int ok = 0;
  for (int i = 0; i < 50'000; ++i) {
    Request req;
    req.version(11);
    req.method(Pick(kVerbs, rng));
    std::string target = Pick(kTargets, rng);
    if (rng() % 3 != 0) target = Mutate(target, rng, 3);
    // Beast refuses to serialize some targets, but a handler is given what
    // the parser accepted: anything without CR, LF, space or NUL.
    std::erase_if(target, [](char c) { return c == '\r' || c == '\n' || c == ' ' || c == '\0'; });
    if (target.empty()) target = "/";
    req.target(target);
    if (rng() % 4 != 0) req.set(http::field::authorization, Pick(kAuthorizations, rng));
    std::string type = Pick(kContentTypes, rng);
    if (!type.empty()) req.set(http::field::content_type, type);
    if (rng() % 8 == 0) req.set(http::field::if_none_match, Mutate("\"abc\", W/\"d\"", rng));
    if (rng() % 8 == 0) req.set(http::field::host, Mutate("127.0.0.1:8080", rng));
    std::string body = Pick(kBodies, rng);
    if (rng() % 2 == 0) body = Mutate(body, rng);
    req.body() = body;
    RequestContext ctx{"fuzz-" + std::to_string(i), "127.0.0.1"};

    std::optional<Response> res;
    std::exception_ptr failure;
    asio::co_spawn(ioc, handlers.Handle(req, ctx), [&](std::exception_ptr e, Response r) {
      failure = e;
      res = std::move(r);
    });
    ioc.restart();
    ioc.run();
    const std::string what = std::string(req.method_string()) + " " + target + " body=" + body;
    ASSERT_FALSE(failure) << "a handler threw for " << what;
    ASSERT_TRUE(res.has_value()) << "no answer for " << what;
    CheckResponse(*res, what);
    if (HasFatalFailure()) return;
    ok += res->result_int() < 300;
  }
  // Some requests must get through: a fuzzer refused at the door tests nothing.
  EXPECT_GT(ok, 1500);
}

// Reads everything the server sends until it closes (at most 5 s).
std::string Exchange(uint16_t port, const std::string& request) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  boost::system::error_code ec;
  asio::write(s, asio::buffer(request), ec);
  s.shutdown(tcp::socket::shutdown_send, ec);  // an incomplete request ends here
  std::string got;
  char buf[8192];
  for (;;) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  return got;
}

TEST_F(HttpFuzzTest, MutatedRawRequestsOverTheWireGetA4xxNeverA5xx) {
  options_.conn.http_idle_timeout_ms = 5'000;
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  discovery::MemoryDiscovery discovery(ioc.get_executor());
  struct NoUpgrades final : connect::UpgradeHandler {
    void Upgrade(boost::beast::tcp_stream, http::request<http::string_body>,
                 boost::beast::flat_buffer) override {}
  } upgrades;
  HttpServer server(ioc.get_executor(), options_, logic_, discovery, upgrades, metrics_, clock_);
  ASSERT_OK(server.Listen("127.0.0.1:0"));
  server.Start();
  std::thread runner([&] { ioc.run(); });

  const std::vector<std::string> corpus = {
      "GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n\r\n",
      "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"
      "Content-Type: application/json\r\nContent-Length: 39\r\n\r\n"
      R"({"id":"c1","to_user":8,"body":"hello"})",
      "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n2c\r\n"
      R"({"username":"bob","password":"secret12"}  )"
      "\r\n0\r\n\r\n",
      "GET /api/v1/conversations/p:7:8/messages?after_seq=1&limit=3 HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer good\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
  };
  std::mt19937_64 rng(7);
  int answered = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string request = Mutate(Pick(corpus, rng), rng);
    std::string got = Exchange(server.port(), request);
    if (got.empty()) continue;  // an incomplete request: nothing to answer
    ++answered;
    // Each response's status line (pipelined requests may get several).
    for (size_t at = got.find("HTTP/1."); at != std::string::npos;
         at = got.find("\r\nHTTP/1.", at + 1)) {
      if (got.compare(at, 2, "\r\n") == 0) at += 2;
      ASSERT_GE(got.size(), at + 12) << got;
      int status = std::atoi(got.substr(at + 9, 3).c_str());
      ASSERT_TRUE(status >= 200 && status < 500) << "request:\n"
                                                 << request << "\nresponse:\n"
                                                 << got;
    }
    ASSERT_EQ(got.rfind("HTTP/1.", 0), 0u) << "request:\n" << request << "\nresponse:\n" << got;
  }
  EXPECT_GT(answered, 1000);
  // Still serving.
  EXPECT_EQ(
      Exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0),
      0u);
  server.StopAccepting();
  work.reset();
  runner.join();
}

}  // namespace
}  // namespace parley::api

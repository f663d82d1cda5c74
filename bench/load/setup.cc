#include "load/setup.h"

#include <random>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "load/http_client.h"
#include "load/json_frame.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

std::string RandomUserPrefix() {
  std::random_device rd;
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string p = "b";
  for (int i = 0; i < 6; ++i) p += kDigits[rd() % 36];
  return p + "_";
}

namespace {

std::string Credentials(const std::string& username, const std::string& password) {
  json::object o;
  o["username"] = username;
  o["password"] = password;
  return json::serialize(o);
}

asio::awaitable<Status> Login(HttpConnection& conn, const BenchConfig& cfg, BenchUser& u) {
  auto r = co_await conn.Call(http::verb::post, "/api/v1/sessions",
                              Credentials(u.username, cfg.password), "");
  if (!r.ok())
    co_return Status(r.status().code(), "login " + u.username + ": " + r.status().message());
  u.token = std::string(StringField(*r, "token"));
  uint64_t id = static_cast<uint64_t>(IntField(*r, "user_id"));
  if (u.token.empty() || id == 0)
    co_return Status::Internal("login reply without token or user_id");
  if (u.user_id != 0 && u.user_id != id)
    co_return Status::Internal("login returned another user_id");
  u.user_id = id;
  co_return Status::Ok();
}

}  // namespace

asio::awaitable<StatusOr<std::vector<BenchUser>>> CreateUsers(const BenchConfig& cfg,
                                                              const ServerTarget& target,
                                                              uint32_t count) {
  std::vector<BenchUser> users(count);
  for (uint32_t i = 0; i < count; ++i) users[i].username = cfg.user_prefix + std::to_string(i);
  Status s = co_await ForEachBounded(
      target, cfg.http_concurrency, count,
      [&](size_t i, HttpConnection& conn) -> asio::awaitable<Status> {
        BenchUser& u = users[i];
        auto r = co_await conn.Call(http::verb::post, "/api/v1/users",
                                    Credentials(u.username, cfg.password), "");
        if (r.ok()) {
          u.user_id = static_cast<uint64_t>(IntField(*r, "user_id"));
        } else if (!r.status().IsAlreadyExists()) {
          co_return Status(r.status().code(),
                           "register " + u.username + ": " + r.status().message());
        }
        co_return co_await Login(conn, cfg, u);
      });
  if (!s.ok()) co_return s;
  co_return users;
}

asio::awaitable<Status> LoginUsers(const BenchConfig& cfg, const ServerTarget& target,
                                   std::vector<BenchUser>& users) {
  co_return co_await ForEachBounded(target, cfg.http_concurrency, users.size(),
                                    [&](size_t i, HttpConnection& conn) -> asio::awaitable<Status> {
                                      co_return co_await Login(conn, cfg, users[i]);
                                    });
}

asio::awaitable<StatusOr<std::vector<BenchGroup>>> CreateGroups(const BenchConfig& cfg,
                                                                const ServerTarget& target,
                                                                const std::vector<BenchUser>& users,
                                                                uint32_t groups, uint32_t size) {
  if (static_cast<uint64_t>(groups) * size > users.size()) {
    co_return Status::InvalidArgument("not enough users for the groups");
  }
  std::vector<BenchGroup> out(groups);
  Status s = co_await ForEachBounded(
      target, cfg.http_concurrency, groups,
      [&](size_t g, HttpConnection& conn) -> asio::awaitable<Status> {
        json::object body;
        body["name"] = "bench-" + std::to_string(g);
        json::array members;
        for (uint32_t m = 0; m < size; ++m) {
          uint32_t idx = static_cast<uint32_t>(g * size + m);
          out[g].members.push_back(idx);
          if (m > 0) members.push_back(users[idx].user_id);
        }
        body["members"] = std::move(members);
        const BenchUser& owner = users[g * size];
        auto r = co_await conn.Call(http::verb::post, "/api/v1/groups", json::serialize(body),
                                    owner.token);
        if (!r.ok()) co_return Status(r.status().code(), "create group: " + r.status().message());
        out[g].group_id = static_cast<uint64_t>(IntField(*r, "group_id"));
        if (out[g].group_id == 0) co_return Status::Internal("group reply without group_id");
        co_return Status::Ok();
      });
  if (!s.ok()) co_return s;
  co_return out;
}

}  // namespace parley::bench

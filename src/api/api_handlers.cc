#include "api/api_handlers.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <spdlog/spdlog.h>
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/callback.h"
#include "common/validation.h"
#include "model/conversation.h"
#include "wire/bearer_token.h"
#include "wire/message_json.h"

namespace parley::api {

namespace http = boost::beast::http;
using boost::asio::awaitable;

struct ApiHandlers::Call {
  const Request& req;
  const RequestContext& ctx;
  const RequestTarget& target;
  const RouteMatch& match;
};

namespace {

std::string Json(const boost::json::object& o) { return boost::json::serialize(o); }

Response Ok(http::status status, const boost::json::object& o) {
  return JsonResponse(status, Json(o));
}

Response NoContent() {
  Response res{http::status::no_content, 11};
  res.set(http::field::cache_control, "no-store");
  return res;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "application/json", optionally with parameters ("; charset=utf-8").
bool IsJsonContentType(std::string_view value) {
  return EqualsNoCase(Trim(value.substr(0, value.find(';'))), "application/json");
}

boost::json::object UserJson(const rpc::User& u) {
  return {{"user_id", u.user_id()}, {"username", u.username()}, {"online", u.online()}};
}

boost::json::object GroupJson(const rpc::Group& g) {
  boost::json::array members;
  members.reserve(static_cast<size_t>(g.members_size()));
  for (uint64_t m : g.members()) members.emplace_back(m);
  return {{"group_id", g.group_id()},
          {"name", g.name()},
          {"owner", g.owner()},
          {"members", std::move(members)}};
}

}  // namespace

ApiHandlers::ApiHandlers(const Options& options, logic::LogicService& logic,
                         discovery::Discovery& discovery, Metrics& metrics, const Clock& clock,
                         StaticFiles static_files)
    : options_(options),
      logic_(logic),
      discovery_(discovery),
      metrics_(metrics),
      clock_(clock),
      static_files_(std::move(static_files)) {}

Response ApiHandlers::Error(const Status& status, int64_t retry_after_ms) const {
  metrics_.errors.Inc(status.ok() ? Code::kInternal : status.code());
  return ErrorResponse(status, retry_after_ms);
}

Response ApiHandlers::ReplyError(const rpc::Error& error, const Call& call) const {
  if (error.code() == rpc::INTERNAL) {
    spdlog::error("event=internal_error rid={} path={} message=\"{}\"", call.ctx.request_id,
                  call.target.path, error.message());
  }
  return Error(Status::FromProto(error), error.retry_after_ms());
}

awaitable<Response> ApiHandlers::Handle(const Request& req, const RequestContext& ctx) const {
  StatusOr<RequestTarget> target = ParseTarget(req.target());
  if (!target.ok()) co_return Error(target.status());
  RouteMatch match = MatchRoute(req.method(), target->segments);
  if (match.result == RouteMatch::Result::kNotFound) {
    co_return Error(Status::NotFound("no such endpoint"));
  }
  if (match.result == RouteMatch::Result::kMethodNotAllowed) {
    co_return MethodNotAllowedResponse(match.allow);
  }
  co_return co_await Dispatch(Call{req, ctx, *target, match});
}

awaitable<Response> ApiHandlers::Dispatch(const Call& call) const {
  switch (call.match.route) {
    case Route::kRegister:
      co_return co_await Register(call);
    case Route::kLogin:
      co_return co_await Login(call);
    case Route::kLogout:
      co_return co_await Logout(call);
    case Route::kMe:
      co_return co_await Me(call);
    case Route::kGetSettings:
    case Route::kPutSettings:
      co_return co_await Settings(call);
    case Route::kFindUser:
      co_return co_await FindUser(call);
    case Route::kGetUser:
      co_return co_await GetUser(call);
    case Route::kCreateGroup:
      co_return co_await CreateGroup(call);
    case Route::kGetGroup:
      co_return co_await GetGroup(call);
    case Route::kAddMember:
      co_return co_await AddMember(call);
    case Route::kRemoveMember:
      co_return co_await RemoveMember(call);
    case Route::kConversations:
      co_return co_await Conversations(call);
    case Route::kHistory:
      co_return co_await History(call);
    case Route::kSend:
      co_return co_await Send(call);
    case Route::kEndpoints:
      co_return co_await Endpoints();
    case Route::kHealthz:
      co_return Ok(http::status::ok, {{"status", "ok"}});
    case Route::kReadyz:
      co_return co_await Readyz(call);
    case Route::kWebSocket:
      // Upgrades never get here: the connection hands them over first.
      co_return Error(Status::InvalidArgument("/ws expects a WebSocket upgrade"));
    case Route::kStatic:
      co_return co_await Static(call);
  }
  co_return Error(Status::Internal("unrouted request"));
}

StatusOr<JsonRequest> ApiHandlers::Body(const Call& call) const {
  auto type = call.req.find(http::field::content_type);
  if (type == call.req.end() || !IsJsonContentType(type->value())) {
    return Status(Code::kUnsupportedMediaType, "Content-Type must be application/json");
  }
  return JsonRequest::Parse(call.req.body());
}

logic::CallContext ApiHandlers::Anonymous(const Call& call) const {
  logic::CallContext ctx;
  ctx.request_id = call.ctx.request_id;
  ctx.client_ip = call.ctx.client_ip;
  const uint32_t timeout = options_.conn.http_logic_timeout_ms;
  if (timeout > 0) ctx.deadline_ms = clock_.NowMs() + timeout;
  return ctx;
}

StatusOr<logic::CallContext> ApiHandlers::Authenticated(const Call& call) const {
  std::string_view token = wire::BearerFromHeader(call.req[http::field::authorization]);
  if (token.empty()) return Status::Unauthenticated("missing bearer token");
  logic::CallContext ctx = Anonymous(call);
  ctx.token = std::string(token);
  return ctx;
}

// Returns early from an endpoint with the error response of a failed StatusOr.
#define PARLEY_TRY(var, expr) \
  auto var = (expr);          \
  if (!var.ok()) co_return Error(var.status())

awaitable<Response> ApiHandlers::Register(const Call& call) const {
  PARLEY_TRY(body, Body(call));
  PARLEY_TRY(username, body->String("username"));
  PARLEY_TRY(password, body->String("password"));
  rpc::RegisterRequest req;
  req.set_username(std::move(*username));
  req.set_password(std::move(*password));
  auto reply = co_await Await<rpc::RegisterReply>(
      [&](auto cb) { logic_.Register(Anonymous(call), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return Ok(http::status::created,
               {{"user_id", reply.user().user_id()}, {"username", reply.user().username()}});
}

awaitable<Response> ApiHandlers::Login(const Call& call) const {
  PARLEY_TRY(body, Body(call));
  PARLEY_TRY(username, body->String("username"));
  PARLEY_TRY(password, body->String("password"));
  rpc::LoginRequest req;
  req.set_username(std::move(*username));
  req.set_password(std::move(*password));
  auto reply = co_await Await<rpc::LoginReply>(
      [&](auto cb) { logic_.Login(Anonymous(call), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return Ok(
      http::status::ok,
      {{"token", reply.token()}, {"user_id", reply.user_id()}, {"expires_at", reply.expires_at()}});
}

awaitable<Response> ApiHandlers::Logout(const Call& call) const {
  PARLEY_TRY(ctx, Authenticated(call));
  auto reply = co_await Await<rpc::LogoutReply>(
      [&](auto cb) { logic_.Logout(std::move(*ctx), rpc::LogoutRequest(), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return NoContent();
}

awaitable<Response> ApiHandlers::LookUpUser(const Call& call, rpc::GetUserRequest req) const {
  PARLEY_TRY(ctx, Authenticated(call));
  auto reply = co_await Await<rpc::GetUserReply>(
      [&](auto cb) { logic_.GetUser(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return Ok(http::status::ok, UserJson(reply.user()));
}

awaitable<Response> ApiHandlers::Me(const Call& call) const {
  // Neither id nor username: the caller.
  co_return co_await LookUpUser(call, rpc::GetUserRequest());
}

awaitable<Response> ApiHandlers::Settings(const Call& call) const {
  rpc::SettingsRequest req;
  if (call.match.route == Route::kPutSettings) {
    PARLEY_TRY(body, Body(call));
    // Every setting is optional; one given must be valid.
    if (body->Has("group_adds")) {
      PARLEY_TRY(group_adds, body->String("group_adds"));
      if (group_adds->empty()) {
        co_return Error(Status::InvalidArgument("group_adds must be \"anyone\" or \"nobody\""));
      }
      req.set_group_adds(std::move(*group_adds));
    }
  }
  PARLEY_TRY(ctx, Authenticated(call));
  auto reply = co_await Await<rpc::SettingsReply>(
      [&](auto cb) { logic_.Settings(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return Ok(http::status::ok, {{"group_adds", reply.group_adds()}});
}

awaitable<Response> ApiHandlers::GetUser(const Call& call) const {
  PARLEY_TRY(user_id, ParseIdText(call.match.params[0], "user_id"));
  rpc::GetUserRequest req;
  req.set_user_id(*user_id);
  co_return co_await LookUpUser(call, std::move(req));
}

awaitable<Response> ApiHandlers::FindUser(const Call& call) const {
  const std::string* username = call.target.Query("username");
  if (username == nullptr || username->empty()) {
    co_return Error(Status::InvalidArgument("username is required"));
  }
  rpc::GetUserRequest req;
  req.set_username(*username);
  co_return co_await LookUpUser(call, std::move(req));
}

awaitable<Response> ApiHandlers::CreateGroup(const Call& call) const {
  PARLEY_TRY(body, Body(call));
  PARLEY_TRY(name, body->String("name"));
  PARLEY_TRY(members, body->IdArray("members", /*missing_ok=*/true));
  PARLEY_TRY(ctx, Authenticated(call));
  rpc::CreateGroupRequest req;
  req.set_name(std::move(*name));
  for (uint64_t m : *members) req.add_members(m);
  auto reply = co_await Await<rpc::GroupReply>(
      [&](auto cb) { logic_.CreateGroup(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return Ok(http::status::created, GroupJson(reply.group()));
}

awaitable<Response> ApiHandlers::GetGroup(const Call& call) const {
  PARLEY_TRY(group_id, ParseIdText(call.match.params[0], "group_id"));
  PARLEY_TRY(ctx, Authenticated(call));
  rpc::GetGroupRequest req;
  req.set_group_id(*group_id);
  auto reply = co_await Await<rpc::GroupReply>(
      [&](auto cb) { logic_.GetGroup(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return Ok(http::status::ok, GroupJson(reply.group()));
}

awaitable<Response> ApiHandlers::AddMember(const Call& call) const {
  PARLEY_TRY(group_id, ParseIdText(call.match.params[0], "group_id"));
  PARLEY_TRY(body, Body(call));
  PARLEY_TRY(member, body->Id("user_id"));
  PARLEY_TRY(ctx, Authenticated(call));
  rpc::AddMemberRequest req;
  req.set_group_id(*group_id);
  req.set_user_id(*member);
  auto reply = co_await Await<rpc::MembershipReply>(
      [&](auto cb) { logic_.AddMember(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return NoContent();
}

awaitable<Response> ApiHandlers::RemoveMember(const Call& call) const {
  PARLEY_TRY(group_id, ParseIdText(call.match.params[0], "group_id"));
  PARLEY_TRY(member, ParseIdText(call.match.params[1], "user_id"));
  PARLEY_TRY(ctx, Authenticated(call));
  rpc::RemoveMemberRequest req;
  req.set_group_id(*group_id);
  req.set_user_id(*member);
  auto reply = co_await Await<rpc::MembershipReply>(
      [&](auto cb) { logic_.RemoveMember(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  co_return NoContent();
}

awaitable<Response> ApiHandlers::Conversations(const Call& call) const {
  rpc::ListConversationsRequest req;
  if (const std::string* limit = call.target.Query("limit")) {
    const uint32_t page_max = options_.limits.conversations_page_max;
    std::optional<uint64_t> v = ParseDecimal(*limit, page_max);
    if (!v || *v == 0) {
      co_return Error(Status::InvalidArgument("limit must be 1 to " + std::to_string(page_max)));
    }
    req.set_limit(static_cast<uint32_t>(*v));
  }
  if (const std::string* before = call.target.Query("before")) {
    // A cursor is a timestamp and a conversation id; anything longer is not one.
    if (before->empty() || before->size() > 128) {
      co_return Error(Status::InvalidArgument("before is not a cursor from a listing"));
    }
    req.set_before(*before);
  }
  PARLEY_TRY(ctx, Authenticated(call));
  auto reply = co_await Await<rpc::ListConversationsReply>(
      [&](auto cb) { logic_.ListConversations(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  std::vector<const rpc::ConvState*> convs;
  convs.reserve(static_cast<size_t>(reply.convs_size()));
  for (const rpc::ConvState& c : reply.convs()) convs.push_back(&c);
  // Most recent activity first, whatever order the logic tier keeps.
  std::stable_sort(
      convs.begin(), convs.end(),
      [](const rpc::ConvState* a, const rpc::ConvState* b) { return a->last_ts() > b->last_ts(); });
  boost::json::array list;
  list.reserve(convs.size());
  for (const rpc::ConvState* c : convs) {
    boost::json::object o{
        {"conv", c->conv()},
        {"last_seq", c->last_seq()},
        {"read_seq", c->read_seq()},
        {"unread", c->last_seq() > c->read_seq() ? c->last_seq() - c->read_seq() : 0}};
    if (c->group_id() != 0) {
      o["group_id"] = c->group_id();
    } else {
      o["peer"] = c->peer();
    }
    list.emplace_back(std::move(o));
  }
  boost::json::object out{{"conversations", std::move(list)}, {"has_more", reply.has_more()}};
  if (reply.has_more()) out["next"] = reply.next();
  co_return Ok(http::status::ok, std::move(out));
}

awaitable<Response> ApiHandlers::History(const Call& call) const {
  const std::string& conv = call.match.params[0];
  if (!model::ConvId::Parse(conv)) {
    co_return Error(Status::InvalidArgument("conv is not a conversation id"));
  }
  rpc::SyncRequest req;
  req.set_conv(conv);
  const std::string* after = call.target.Query("after_seq");
  const std::string* before = call.target.Query("before_seq");
  const std::string* limit = call.target.Query("limit");
  if (after != nullptr && before != nullptr) {
    co_return Error(Status::InvalidArgument("after_seq and before_seq exclude each other"));
  }
  if (after != nullptr) {
    // Seqs are JSON-safe integers (below 2^53); larger ones would wrap in
    // the page arithmetic.
    std::optional<uint64_t> v = ParseDecimal(*after, kMaxSafeId);
    if (!v)
      co_return Error(Status::InvalidArgument("after_seq must be an integer from 0 to 2^53-1"));
    req.set_after_seq(*v);
    req.set_has_after(true);
  }
  if (before != nullptr) {
    std::optional<uint64_t> v = ParseDecimal(*before, kMaxSafeId);
    if (!v || *v == 0)
      co_return Error(Status::InvalidArgument("before_seq must be an integer from 1 to 2^53-1"));
    req.set_before_seq(*v);
  }
  uint64_t page = options_.limits.page_limit_default;
  if (limit != nullptr) {
    std::optional<uint64_t> v = ParseDecimal(*limit, options_.limits.page_limit_max);
    Status valid = v ? ValidateLimit(static_cast<int64_t>(*v), options_.limits)
                     : ValidateLimit(0, options_.limits);
    if (!valid.ok()) co_return Error(valid);
    page = *v;
  }
  req.set_limit(static_cast<uint32_t>(page));
  PARLEY_TRY(ctx, Authenticated(call));
  auto reply = co_await Await<rpc::SyncReply>(
      [&](auto cb) { logic_.Sync(std::move(*ctx), std::move(req), cb); });
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  std::string json = "{";
  wire::AppendMessagePage(json, reply);
  json += '}';
  co_return JsonResponse(http::status::ok, std::move(json));
}

awaitable<Response> ApiHandlers::Send(const Call& call) const {
  PARLEY_TRY(body, Body(call));
  PARLEY_TRY(id, body->String("id"));
  bool to_user = body->Has("to_user");
  bool to_group = body->Has("to_group");
  if (to_user == to_group) {
    co_return Error(Status::InvalidArgument("exactly one of to_user and to_group is required"));
  }
  PARLEY_TRY(to, body->Id(to_user ? "to_user" : "to_group"));
  PARLEY_TRY(text, body->String("body"));
  PARLEY_TRY(ctx, Authenticated(call));
  rpc::SendBatch batch;
  rpc::SendRequest* req = batch.add_requests();
  req->set_client_id(*id);
  if (to_user) {
    req->set_to_user(*to);
  } else {
    req->set_to_group(*to);
  }
  req->set_body(std::move(*text));
  auto replies = co_await Await<rpc::SendBatchReply>(
      [&](auto cb) { logic_.Send(std::move(*ctx), std::move(batch), cb); });
  if (replies.replies_size() != 1) {
    co_return Error(Status::Internal("logic answered a send with " +
                                     std::to_string(replies.replies_size()) + " replies"));
  }
  const rpc::SendReply& reply = replies.replies(0);
  if (reply.error().code() != rpc::OK) co_return ReplyError(reply.error(), call);
  std::string json = "{";
  wire::AppendAckFields(json, *id, reply);
  json += '}';
  co_return JsonResponse(http::status::ok, std::move(json));
}

awaitable<Response> ApiHandlers::Readyz(const Call& call) const {
  Status status = co_await Await<Status>([&](auto cb) { logic_.Ready(Anonymous(call), cb); });
  if (!status.ok()) {
    // Always 503: whatever went wrong, the caller should retry elsewhere.
    // The reason may quote the store: it goes to the log and to the admin
    // port's /readyz, never to clients.
    spdlog::warn("event=not_ready rid={} reason=\"{}\"", call.ctx.request_id, status.message());
    co_return Error(Status::Unavailable("not ready"));
  }
  co_return Ok(http::status::ok, {{"status", "ready"}});
}

awaitable<Response> ApiHandlers::Endpoints() const {
  auto nodes = co_await Await<StatusOr<std::vector<discovery::NodeInfo>>>(
      [&](auto cb) { discovery_.Nodes("connect", cb); });
  if (!nodes.ok()) co_return Error(Status::Unavailable(nodes.status().message()));
  // Least loaded first, as discovery orders them. Nodes behind one public
  // address (a load balancer, or the api's own /ws proxy) share a URL: it is
  // listed once, where its least loaded node puts it.
  boost::json::array urls;
  for (const discovery::NodeInfo& node : *nodes) {
    if (node.ws_url.empty()) continue;
    bool listed = false;
    for (const auto& u : urls) listed = listed || u.as_string() == node.ws_url;
    if (!listed) urls.emplace_back(node.ws_url);
  }
  co_return Ok(http::status::ok, {{"websocket", std::move(urls)}});
}

awaitable<Response> ApiHandlers::Static(const Call& call) const {
  const StaticFile* file = static_files_.Find(call.target.segments);
  if (file == nullptr) co_return Error(Status::NotFound("no such file"));
  http::verb method = call.req.method();
  if (method != http::verb::get && method != http::verb::head) {
    co_return MethodNotAllowedResponse("GET, HEAD");
  }
  auto inm = call.req.find(http::field::if_none_match);
  bool fresh = inm != call.req.end() && StaticFiles::EtagMatches(inm->value(), file->etag);
  Response res{fresh ? http::status::not_modified : http::status::ok, 11};
  res.set(http::field::etag, file->etag);
  res.set(http::field::cache_control, "no-cache");
  if (file->content_type.starts_with("text/html")) {
    // A page may open WebSockets to wherever /api/v1/endpoints sends it.
    std::vector<std::string> ws_urls;
    if (!options_.public_ws_url.empty()) ws_urls.push_back(options_.public_ws_url);
    auto nodes = co_await Await<StatusOr<std::vector<discovery::NodeInfo>>>(
        [&](auto cb) { discovery_.Nodes("connect", cb); });
    if (nodes.ok()) {
      for (const discovery::NodeInfo& node : *nodes) ws_urls.push_back(node.ws_url);
    }
    res.set("Content-Security-Policy", WebClientCsp(call.req[http::field::host], ws_urls));
  }
  if (!fresh) {
    res.set(http::field::content_type, file->content_type);
    res.body() = file->body;
  }
  co_return res;
}

}  // namespace parley::api

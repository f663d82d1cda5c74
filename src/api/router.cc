#include "api/router.h"

#include <array>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace parley::api {

namespace http = boost::beast::http;

const std::string* RequestTarget::Query(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return &v;
  }
  return nullptr;
}

StatusOr<RequestTarget> ParseTarget(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return Status::InvalidArgument("malformed request target");
  const boost::urls::url_view& url = *parsed;
  RequestTarget out;
  out.path = std::string(url.encoded_path());
  for (std::string segment : url.segments()) out.segments.push_back(std::move(segment));
  if (url.has_query()) {
    for (auto param : url.params()) out.query.emplace_back(param.key, param.value);
  }
  return out;
}

namespace {

struct RouteSpec {
  http::verb method;
  std::array<std::string_view, 6> pattern;  // "{}" captures one non-empty segment
  size_t length;
  Route route;
};

constexpr http::verb kGet = http::verb::get;
constexpr http::verb kPost = http::verb::post;
constexpr http::verb kDelete = http::verb::delete_;
constexpr http::verb kPut = http::verb::put;

constexpr RouteSpec kRoutes[] = {
    {kPost, {"api", "v1", "users"}, 3, Route::kRegister},
    {kGet, {"api", "v1", "users"}, 3, Route::kFindUser},
    {kGet, {"api", "v1", "users", "me"}, 4, Route::kMe},  // before {}: first match wins
    {kGet, {"api", "v1", "users", "me", "settings"}, 5, Route::kGetSettings},
    {kPut, {"api", "v1", "users", "me", "settings"}, 5, Route::kPutSettings},
    {kGet, {"api", "v1", "users", "{}"}, 4, Route::kGetUser},
    {kPost, {"api", "v1", "sessions"}, 3, Route::kLogin},
    {kDelete, {"api", "v1", "sessions"}, 3, Route::kLogout},
    {kPost, {"api", "v1", "groups"}, 3, Route::kCreateGroup},
    {kGet, {"api", "v1", "groups", "{}"}, 4, Route::kGetGroup},
    {kPost, {"api", "v1", "groups", "{}", "members"}, 5, Route::kAddMember},
    {kDelete, {"api", "v1", "groups", "{}", "members", "{}"}, 6, Route::kRemoveMember},
    {kGet, {"api", "v1", "conversations"}, 3, Route::kConversations},
    {kGet, {"api", "v1", "conversations", "{}", "messages"}, 5, Route::kHistory},
    {kPost, {"api", "v1", "messages"}, 3, Route::kSend},
    {kGet, {"api", "v1", "endpoints"}, 3, Route::kEndpoints},
    {kGet, {"healthz"}, 1, Route::kHealthz},
    {kGet, {"readyz"}, 1, Route::kReadyz},
    {kGet, {"ws"}, 1, Route::kWebSocket},
};

bool PathMatches(const RouteSpec& spec, const std::vector<std::string>& segments,
                 std::vector<std::string>* params) {
  if (segments.size() != spec.length) return false;
  params->clear();
  for (size_t i = 0; i < spec.length; ++i) {
    if (spec.pattern[i] == "{}") {
      if (segments[i].empty()) return false;
      params->push_back(segments[i]);
    } else if (spec.pattern[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

bool MethodMatches(const RouteSpec& spec, http::verb method) {
  if (method == spec.method) return true;
  return method == http::verb::head && spec.method == kGet && spec.route != Route::kWebSocket;
}

}  // namespace

RouteMatch MatchRoute(http::verb method, const std::vector<std::string>& segments) {
  RouteMatch match;
  bool get = false, post = false, del = false, head = false, put = false;
  std::vector<std::string> params;
  for (const RouteSpec& spec : kRoutes) {
    if (!PathMatches(spec, segments, &params)) continue;
    if (MethodMatches(spec, method)) {
      match.result = RouteMatch::Result::kMatched;
      match.route = spec.route;
      match.params = std::move(params);
      return match;
    }
    get |= spec.method == kGet;
    head |= spec.method == kGet && spec.route != Route::kWebSocket;
    post |= spec.method == kPost;
    del |= spec.method == kDelete;
    put |= spec.method == kPut;
  }
  if (get || post || del || put) {
    match.result = RouteMatch::Result::kMethodNotAllowed;
    auto add = [&](bool on, const char* name) {
      if (!on) return;
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += name;
    };
    add(del, "DELETE");
    add(get, "GET");
    add(head, "HEAD");
    add(post, "POST");
    add(put, "PUT");
    return match;
  }
  if (!segments.empty() && segments[0] == "api") {
    match.result = RouteMatch::Result::kNotFound;
    return match;
  }
  match.result = RouteMatch::Result::kMatched;
  match.route = Route::kStatic;
  return match;
}

}  // namespace parley::api

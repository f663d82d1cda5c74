#include "api/http_reply.h"

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "common/json_error.h"

namespace parley::api {

namespace http = boost::beast::http;

Response JsonResponse(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

Response ErrorResponse(const Status& status, int64_t retry_after_ms) {
  Status shown = status;
  if (status.ok() || status.code() == Code::kInternal) {
    shown = Status::Internal("internal error");
  }
  Response res =
      JsonResponse(static_cast<http::status>(HttpStatus(shown.code())), ErrorBody(shown));
  // Rate limits always say when to come back; a busy server (a full hasher
  // queue) when it knows.
  if (shown.code() == Code::kRateLimited ||
      (shown.code() == Code::kUnavailable && retry_after_ms > 0)) {
    int64_t seconds = retry_after_ms <= 0 ? 1 : (retry_after_ms + 999) / 1000;
    res.set(http::field::retry_after, std::to_string(seconds));
  }
  return res;
}

Response MethodNotAllowedResponse(std::string_view allow) {
  boost::json::object inner;
  inner["code"] = "method_not_allowed";
  inner["message"] = "method not allowed; allowed: " + std::string(allow);
  boost::json::object outer;
  outer["error"] = std::move(inner);
  Response res = JsonResponse(http::status::method_not_allowed, boost::json::serialize(outer));
  res.set(http::field::allow, allow);
  return res;
}

void SetSecurityHeaders(Response& res) {
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  if (res.find("Content-Security-Policy") == res.end()) {
    res.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }
}

namespace {

// A Host header value that can go into a CSP source expression as is.
bool IsPlainHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string WebClientCsp(std::string_view host, const std::vector<std::string>& ws_urls) {
  std::string connect = "'self'";
  auto add = [&connect](const std::string& source) {
    if (connect.find(" " + source) == std::string::npos) connect += " " + source;
  };
  if (IsPlainHost(host)) {
    add("ws://" + std::string(host));
    add("wss://" + std::string(host));
  }
  for (const std::string& url : ws_urls) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) continue;
    std::string scheme(parsed->scheme());
    std::string authority(parsed->encoded_host_and_port());
    if ((scheme != "ws" && scheme != "wss") || !IsPlainHost(authority)) continue;
    add(scheme + "://" + authority);
  }
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "connect-src " +
         connect +
         "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

}  // namespace parley::api

#include "api/http_reply.h"

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

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

}  // namespace parley::api

// Building HTTP responses of the api tier: JSON bodies and the JSON error
// body of PROTOCOL.md. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/status.h"

namespace parley::api {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// `body` with Content-Type application/json and Cache-Control no-store.
Response JsonResponse(boost::beast::http::status status, std::string body);

// {"error":{"code","message"}} with the code's HTTP status. INTERNAL never
// carries its message (it may hold internals). RATE_LIMITED gets
// Retry-After: `retry_after_ms` in whole seconds, rounded up, at least 1.
Response ErrorResponse(const Status& status, int64_t retry_after_ms = 0);

// 405 with code "method_not_allowed" (an extension of PROTOCOL.md's codes)
// and the Allow header.
Response MethodNotAllowedResponse(std::string_view allow);

}  // namespace parley::api

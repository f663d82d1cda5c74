// Building HTTP responses of the api tier: JSON bodies and the JSON error
// body of PROTOCOL.md. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// Headers every response of the public port carries: no MIME sniffing, no
// framing (X-Frame-Options DENY), no Referer sent from our pages, and a
// Content-Security-Policy that allows nothing (default-src 'none';
// frame-ancestors 'none') unless `res` has one already (a page of the web
// client has WebClientCsp()).
void SetSecurityHeaders(Response& res);

// The Content-Security-Policy of the web client's pages: scripts, styles and
// everything else from the page's own origin only (no inline script or
// style, no eval), images also as data: URLs (the favicon), no plugins, no
// framing, no <base> and forms posting only to the origin. connect-src is
// the origin plus ws:// and wss:// to `host` (the request's Host header,
// left out unless it is a plain host[:port]) and the origins of `ws_urls`
// (where /api/v1/endpoints sends clients; entries that are no ws:// or
// wss:// URL are skipped).
std::string WebClientCsp(std::string_view host, const std::vector<std::string>& ws_urls);

}  // namespace parley::api

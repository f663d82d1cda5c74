// Where a request carries its bearer token, parsed once for every tier: the
// Authorization header ("Bearer <token>", RFC 6750; the scheme is
// case-insensitive) or, for a WebSocket upgrade from a browser, which cannot
// set headers on a WebSocket, the `token` query parameter. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace parley::wire {

// The token of an Authorization header value; empty when absent, empty, or
// of another scheme. A view into `authorization`.
std::string_view BearerFromHeader(std::string_view authorization);

// The token of a WebSocket upgrade request: the header's, else the `token`
// query parameter of `target` ("/ws?token=..."), percent-decoded; empty when
// it has none.
std::string BearerToken(std::string_view authorization, std::string_view target);

}  // namespace parley::wire

// Where a WebSocket upgrade request carries its token: the Authorization
// header ("Bearer <token>") or, for browsers, which cannot set headers on a
// WebSocket, the `token` query parameter. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace parley::connect {

// The token of the request, empty when it has none. The header wins over the
// query. `target` is the request target ("/ws?token=...").
std::string BearerToken(std::string_view authorization, std::string_view target);

}  // namespace parley::connect

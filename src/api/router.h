// Request targets and route matching for the public port. Pure functions of
// their arguments; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "common/status.h"

namespace parley::api {

// An origin-form request target ("/a/b%3Ac?k=v"), percent-decoded.
struct RequestTarget {
  std::string path;                   // as sent, still encoded, without the query
  std::vector<std::string> segments;  // decoded; "/" has none, "/a/" is {"a", ""}
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order

  // The value of the first `key` parameter, or nullptr.
  const std::string* Query(std::string_view key) const;
};

// INVALID_ARGUMENT when `target` is not a valid origin-form target.
StatusOr<RequestTarget> ParseTarget(std::string_view target);

enum class Route {
  kRegister,       // POST   /api/v1/users
  kFindUser,       // GET    /api/v1/users?username=
  kMe,             // GET    /api/v1/users/me
  kGetSettings,    // GET    /api/v1/users/me/settings
  kPutSettings,    // PUT    /api/v1/users/me/settings
  kGetUser,        // GET    /api/v1/users/{user_id}
  kLogin,          // POST   /api/v1/sessions
  kLogout,         // DELETE /api/v1/sessions
  kCreateGroup,    // POST   /api/v1/groups
  kGetGroup,       // GET    /api/v1/groups/{group_id}
  kAddMember,      // POST   /api/v1/groups/{group_id}/members
  kRemoveMember,   // DELETE /api/v1/groups/{group_id}/members/{user_id}
  kConversations,  // GET    /api/v1/conversations
  kHistory,        // GET    /api/v1/conversations/{conv}/messages
  kSend,           // POST   /api/v1/messages
  kEndpoints,      // GET    /api/v1/endpoints
  kHealthz,        // GET    /healthz
  kReadyz,         // GET    /readyz
  kWebSocket,      // GET    /ws
  kStatic,         // any other path outside /api: the web client's files
};

struct RouteMatch {
  enum class Result { kMatched, kNotFound, kMethodNotAllowed };
  Result result = Result::kNotFound;
  Route route = Route::kStatic;
  std::vector<std::string> params;  // the {…} segments of the path, in order
  std::string allow;                // kMethodNotAllowed: e.g. "GET, HEAD, POST"
};

// HEAD matches every GET route but /ws. Paths under /api that match no route
// are kNotFound; every other unmatched path is kStatic, whatever the method
// (the static handler decides between 404 and 405).
RouteMatch MatchRoute(boost::beast::http::verb method, const std::vector<std::string>& segments);

}  // namespace parley::api

// The HTTP endpoints of the public port (PROTOCOL.md "HTTP API", /healthz,
// /readyz without the reason, and the web client's files; /metrics is on the
// admin port, connect::WsListener::Admin): each translates its JSON
// request into one LogicService call, whose CallContext carries the bearer
// token, request id, client address and a deadline
// (options.conn.http_logic_timeout_ms), and the reply back into JSON.
//
// Thread-safe: holds only references and immutable state, so one instance
// serves every connection; each Handle() runs on the caller's executor.
// The referenced services must outlive every Handle() in flight.
#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/http_reply.h"
#include "api/json_request.h"
#include "api/router.h"
#include "api/static_files.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "discovery/discovery.h"
#include "logic/logic_service.h"

namespace parley::api {

// Facts about a request that the HTTP connection knows.
struct RequestContext {
  std::string request_id;  // sent in every rpc request_id
  std::string client_ip;   // remote address, for per-IP limits in logic
};

class ApiHandlers {
 public:
  ApiHandlers(const Options& options, logic::LogicService& logic, discovery::Discovery& discovery,
              Metrics& metrics, const Clock& clock, StaticFiles static_files);

  // The response to one request that is not a WebSocket upgrade. Never
  // fails: errors become JSON error responses, counted in metrics.errors.
  // `req` and `ctx` must stay alive until the returned awaitable completes.
  boost::asio::awaitable<Response> Handle(const Request& req, const RequestContext& ctx) const;

  // An error response, counted in metrics.errors.
  Response Error(const Status& status, int64_t retry_after_ms = 0) const;

 private:
  struct Call;

  boost::asio::awaitable<Response> Dispatch(const Call& call) const;
  // The context of a call on behalf of the request's client, without
  // credentials (Register, Login, Ready).
  logic::CallContext Anonymous(const Call& call) const;
  // ... with the request's bearer token; UNAUTHENTICATED when it has none.
  // Logic checks the token with the operation itself: one call per request.
  StatusOr<logic::CallContext> Authenticated(const Call& call) const;
  StatusOr<JsonRequest> Body(const Call& call) const;
  Response ReplyError(const rpc::Error& error, const Call& call) const;

  boost::asio::awaitable<Response> Register(const Call& call) const;
  boost::asio::awaitable<Response> Login(const Call& call) const;
  boost::asio::awaitable<Response> Logout(const Call& call) const;
  boost::asio::awaitable<Response> Me(const Call& call) const;
  boost::asio::awaitable<Response> Settings(const Call& call) const;
  boost::asio::awaitable<Response> FindUser(const Call& call) const;
  boost::asio::awaitable<Response> GetUser(const Call& call) const;
  // The user as {"user_id","username","online"}, for the three lookups above.
  boost::asio::awaitable<Response> LookUpUser(const Call& call, rpc::GetUserRequest req) const;
  boost::asio::awaitable<Response> CreateGroup(const Call& call) const;
  boost::asio::awaitable<Response> GetGroup(const Call& call) const;
  boost::asio::awaitable<Response> AddMember(const Call& call) const;
  boost::asio::awaitable<Response> RemoveMember(const Call& call) const;
  boost::asio::awaitable<Response> Conversations(const Call& call) const;
  boost::asio::awaitable<Response> History(const Call& call) const;
  boost::asio::awaitable<Response> Send(const Call& call) const;
  boost::asio::awaitable<Response> Readyz(const Call& call) const;
  boost::asio::awaitable<Response> Endpoints() const;
  // A web client file; its pages get WebClientCsp().
  boost::asio::awaitable<Response> Static(const Call& call) const;

  const Options options_;
  logic::LogicService& logic_;
  discovery::Discovery& discovery_;
  Metrics& metrics_;
  const Clock& clock_;
  const StaticFiles static_files_;
};

}  // namespace parley::api

// Accounts: registration, login, logout, and who a caller is. Enforces the
// per-network limit on registrations and logins and the per-account limit on
// failed logins, whose buckets live in the AuthRateLimits seam (shared by
// every node, so they hold for the whole cluster); owns the per-user limit
// on user lookups, and the set of user ids known to exist (users are never
// deleted, so a positive answer never goes stale; bounded by
// storage.known_users_cache_max, see KnownUsers). Sessions themselves live
// in the SessionStore seam, shared by every node.
//
// Not thread-safe: runs on the Logic facade's strand. `deps` must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/rate_limiter.h"
#include "logic/known_users.h"
#include "logic/logic_deps.h"
#include "logic/logic_service.h"
#include "logic/logic_task.h"
#include "logic/password_hasher.h"

namespace parley::logic {

class Accounts {
 public:
  Accounts(const LogicDeps& deps, std::unique_ptr<PasswordHasher> hasher);

  // Coroutines started lazily (Run) take their arguments by value.
  Task<rpc::RegisterReply> Register(CallContext ctx, rpc::RegisterRequest req);
  Task<rpc::LoginReply> Login(CallContext ctx, rpc::LoginRequest req);
  // Revokes the caller's session; once it returns OK, no node accepts it.
  Task<Status> Logout(const Caller& caller, const std::string& request_id);
  // The caller behind ctx's credentials (a bearer token, or the user and
  // session of a socket); UNAUTHENTICATED when missing, unknown, revoked,
  // expired, or not the socket's user.
  Task<StatusOr<Caller>> Authenticate(const CallContext& ctx);
  // The two halves of Authenticate, for the send path, which looks the
  // session up without a coroutine: the session key of ctx's credentials, and
  // the caller once the SessionStore answered for that key. Thread-safe.
  static StatusOr<std::string> SessionKeyOf(const CallContext& ctx);
  StatusOr<Caller> CallerOf(const CallContext& ctx, std::string key,
                            const StatusOr<state::Session>& session) const;
  // The user asked for, on behalf of `caller` (rate-limited per caller).
  // `online` is filled in only when show_online(user id) says so.
  Task<rpc::GetUserReply> GetUser(const Caller& caller, rpc::GetUserRequest req,
                                  std::function<Task<bool>(uint64_t)> show_online);
  // OK when the user exists; NOT_FOUND otherwise.
  Task<Status> CheckUserExists(uint64_t user_id);
  // For the send path, which checks recipients without a coroutine: whether
  // a user is known to exist, and remembering one found in the store.
  bool Known(uint64_t user_id) const { return known_users_.contains(user_id); }
  void Remember(uint64_t user_id) { known_users_.insert(user_id); }

 private:
  // The per-network rate-limit key of the caller's address.
  std::string NetworkOf(const CallContext& ctx) const;

  const LogicDeps& deps_;
  std::unique_ptr<PasswordHasher> hasher_;
  KeyedRateLimiter<uint64_t> lookup_limiter_;  // by caller
  KnownUsers known_users_{deps_.options.storage.known_users_cache_max};
};

}  // namespace parley::logic

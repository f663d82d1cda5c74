#include "logic/accounts.h"

#include <optional>

#include <spdlog/spdlog.h>

#include "common/client_address.h"
#include "common/validation.h"

namespace parley::logic {

namespace {
// A bearer token longer than this cannot be one of ours.
constexpr size_t kTokenMax = 256;

// A full hasher queue clears in about this long (a hash takes tens of ms).
constexpr int64_t kHasherBusyRetryMs = 1000;

// When the auth buckets cannot be consulted (Redis unreachable in a
// cluster), an attempt is refused as by a busy service: 503 with this
// Retry-After. Failing open would lift the guessing limits for as long as
// the buckets are away (auth_rate_limits.h).
constexpr int64_t kLimitsUnavailableRetryMs = 1000;

template <typename R>
R LimitsUnavailableReply(const Status& s, const std::string& request_id) {
  spdlog::warn("event=auth_rate_limits_unavailable rid={} error={}", request_id, s.message());
  R r = ErrorReply<R>(Status::Unavailable("temporarily unavailable; retry later"));
  r.mutable_error()->set_retry_after_ms(kLimitsUnavailableRetryMs);
  return r;
}

// Takes a token from the client network's auth bucket (shared by register
// and login); the refusal to answer with when there is none, or the buckets
// cannot be consulted.
template <typename R>
Task<std::optional<R>> RefusedByNetworkBucket(state::AuthRateLimits& limits,
                                              std::string network_key, std::string request_id,
                                              const char* too_many) {
  auto network = co_await Await<StatusOr<state::RateDecision>>(
      [&](auto cb) { limits.TakeNetwork(std::move(network_key), cb); });
  if (!network.ok()) co_return LimitsUnavailableReply<R>(network.status(), request_id);
  if (!network->allowed) co_return RateLimitedReply<R>(too_many, network->retry_after_ms);
  co_return std::nullopt;
}

// A hasher failure as a reply: a full queue says when to retry.
template <typename R>
R HasherErrorReply(const Status& s) {
  R r = ErrorReply<R>(s);
  if (s.code() == Code::kUnavailable) r.mutable_error()->set_retry_after_ms(kHasherBusyRetryMs);
  return r;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}
}  // namespace

Accounts::Accounts(const LogicDeps& deps, std::unique_ptr<PasswordHasher> hasher)
    : deps_(deps),
      hasher_(std::move(hasher)),
      lookup_limiter_(deps.clock, deps.options.rate.user_lookups_per_sec,
                      deps.options.rate.user_lookups_burst) {}

std::string Accounts::NetworkOf(const CallContext& ctx) const {
  const RateLimits& r = deps_.options.rate;
  return NetworkKey(ctx.client_ip, r.auth_ipv4_prefix, r.auth_ipv6_prefix);
}

Task<rpc::RegisterReply> Accounts::Register(CallContext ctx, rpc::RegisterRequest req) {
  using R = rpc::RegisterReply;
  const Limits& limits = deps_.options.limits;
  if (Status s = ValidateUsername(req.username(), limits); !s.ok()) co_return ErrorReply<R>(s);
  if (Status s = ValidatePassword(req.password(), limits); !s.ok()) co_return ErrorReply<R>(s);
  if (auto refused =
          co_await RefusedByNetworkBucket<R>(deps_.auth_limits, NetworkOf(ctx), ctx.request_id,
                                             "too many registrations; retry later")) {
    co_return std::move(*refused);
  }
  auto hash =
      co_await Await<StatusOr<std::string>>([&](auto cb) { hasher_->Hash(req.password(), cb); });
  if (!hash.ok()) co_return HasherErrorReply<R>(hash.status());
  auto user = co_await Await<StatusOr<store::UserRecord>>(
      [&](auto cb) { deps_.store.CreateUser(req.username(), *hash, deps_.clock.NowMs(), cb); });
  if (!user.ok()) {
    if (user.status().IsAlreadyExists())
      co_return ErrorReply<R>(Status::AlreadyExists("username is taken"));
    co_return ErrorReply<R>(user.status());
  }
  known_users_.insert(user->user_id);
  deps_.metrics.registrations.Inc();
  spdlog::info("event=register rid={} user={}", ctx.request_id, user->user_id);
  R r;
  r.mutable_user()->set_user_id(user->user_id);
  r.mutable_user()->set_username(user->username);
  co_return r;
}

Task<rpc::LoginReply> Accounts::Login(CallContext ctx, rpc::LoginRequest req) {
  using R = rpc::LoginReply;
  const Limits& limits = deps_.options.limits;
  if (auto refused =
          co_await RefusedByNetworkBucket<R>(deps_.auth_limits, NetworkOf(ctx), ctx.request_id,
                                             "too many login attempts; retry later")) {
    co_return std::move(*refused);
  }
  // Malformed credentials cannot match; answer like a wrong password.
  bool plausible =
      ValidateUsername(req.username(), limits).ok() && req.password().size() <= limits.password_max;
  // Failed logins are limited per account, from every address together, so
  // guessing one user's password from many addresses is as slow as from one.
  // Unknown usernames are limited alike (no difference to tell them apart).
  const std::string account = plausible ? Lower(req.username()) : std::string();
  if (plausible) {
    auto failures = co_await Await<StatusOr<state::RateDecision>>(
        [&](auto cb) { deps_.auth_limits.CheckLoginFailures(account, cb); });
    if (!failures.ok()) co_return LimitsUnavailableReply<R>(failures.status(), ctx.request_id);
    if (!failures->allowed) {
      co_return RateLimitedReply<R>("too many failed logins for this account; retry later",
                                    failures->retry_after_ms);
    }
  }
  std::string hash;
  uint64_t user_id = 0;
  if (plausible) {
    auto user = co_await Await<StatusOr<store::UserRecord>>(
        [&](auto cb) { deps_.store.FindUserByName(req.username(), cb); });
    if (user.ok()) {
      hash = user->password_hash;
      user_id = user->user_id;
    } else if (!user.status().IsNotFound()) {
      co_return ErrorReply<R>(user.status());
    }
  }
  // An unknown user costs the same verification time as a known one.
  auto ok =
      co_await Await<StatusOr<bool>>([&](auto cb) { hasher_->Verify(req.password(), hash, cb); });
  if (!ok.ok()) co_return HasherErrorReply<R>(ok.status());
  if (!*ok || user_id == 0) {
    if (plausible) {
      // Counted before the answer, so that the next guess sees it. A count
      // that cannot be made is logged: this attempt failed anyway, and the
      // next one's check fails closed while the buckets are away.
      auto counted = co_await Await<StatusOr<state::RateDecision>>(
          [&](auto cb) { deps_.auth_limits.TakeLoginFailure(account, cb); });
      if (!counted.ok()) {
        spdlog::warn("event=auth_rate_limits_unavailable rid={} error={}", ctx.request_id,
                     counted.status().message());
      }
    }
    co_return ErrorReply<R>(Status::Unauthenticated("wrong username or password"));
  }
  std::string token = NewToken();
  state::Session session{HashToken(token), user_id,
                         deps_.clock.NowMs() + deps_.options.token_ttl_ms};
  Status s = co_await Await<Status>([&](auto cb) { deps_.sessions.Create(session, cb); });
  if (!s.ok()) co_return ErrorReply<R>(s);
  known_users_.insert(user_id);
  deps_.metrics.logins.Inc();
  spdlog::info("event=login rid={} user={}", ctx.request_id, user_id);
  R r;
  r.set_token(std::move(token));
  r.set_user_id(user_id);
  r.set_expires_at(session.expires_at);
  co_return r;
}

StatusOr<std::string> Accounts::SessionKeyOf(const CallContext& ctx) {
  if (!ctx.token.empty()) {
    if (ctx.token.size() > kTokenMax) return Status::Unauthenticated("unknown token");
    return HashToken(ctx.token);
  }
  if (!ctx.session_key.empty() && ctx.user_id != 0) return ctx.session_key;
  return Status::Unauthenticated("missing bearer token");
}

StatusOr<Caller> Accounts::CallerOf(const CallContext& ctx, std::string key,
                                    const StatusOr<state::Session>& session) const {
  if (!session.ok()) {
    if (session.status().IsNotFound()) return Status::Unauthenticated("unknown or revoked token");
    return session.status();
  }
  if (ctx.token.empty() && session->user_id != ctx.user_id) {
    return Status::Unauthenticated("the session is not this user's");
  }
  if (session->expires_at <= deps_.clock.NowMs()) return Status::Unauthenticated("token expired");
  return Caller{session->user_id, std::move(key), session->expires_at};
}

Task<StatusOr<Caller>> Accounts::Authenticate(const CallContext& ctx) {
  auto key = SessionKeyOf(ctx);
  if (!key.ok()) co_return key.status();
  auto session =
      co_await Await<StatusOr<state::Session>>([&](auto cb) { deps_.sessions.Find(*key, cb); });
  co_return CallerOf(ctx, std::move(*key), session);
}

Task<Status> Accounts::Logout(const Caller& caller, const std::string& request_id) {
  Status s =
      co_await Await<Status>([&](auto cb) { deps_.sessions.Revoke(caller.session_key, cb); });
  if (s.ok()) spdlog::info("event=logout rid={} user={}", request_id, caller.user_id);
  co_return s;
}

Task<rpc::GetUserReply> Accounts::GetUser(const Caller& caller, rpc::GetUserRequest req,
                                          std::function<Task<bool>(uint64_t)> show_online) {
  using R = rpc::GetUserReply;
  // Looking oneself up is free; others are limited, so walking the id space
  // to list every user is slow.
  bool self = req.user_id() == caller.user_id;
  int64_t retry = 0;
  if (!self && !lookup_limiter_.TryTake(caller.user_id, &retry)) {
    co_return RateLimitedReply<R>("too many user lookups; retry later", retry);
  }
  StatusOr<store::UserRecord> user = Status::NotFound("no such user");
  if (req.user_id() != 0) {
    user = co_await Await<StatusOr<store::UserRecord>>(
        [&](auto cb) { deps_.store.FindUserById(req.user_id(), cb); });
  } else if (ValidateUsername(req.username(), deps_.options.limits).ok()) {
    user = co_await Await<StatusOr<store::UserRecord>>(
        [&](auto cb) { deps_.store.FindUserByName(req.username(), cb); });
  }
  if (!user.ok()) {
    if (user.status().IsNotFound()) co_return ErrorReply<R>(Status::NotFound("no such user"));
    co_return ErrorReply<R>(user.status());
  }
  known_users_.insert(user->user_id);
  R r;
  r.mutable_user()->set_user_id(user->user_id);
  r.mutable_user()->set_username(user->username);
  // Online state is for those the user talks with: others see it false.
  if (user->user_id != caller.user_id && !co_await show_online(user->user_id)) co_return r;
  auto conns = co_await Await<StatusOr<std::vector<std::vector<presence::Connection>>>>(
      [&](auto cb) { deps_.presence.Lookup({user->user_id}, cb); });
  // Presence down: the user is shown offline rather than failing the lookup.
  r.mutable_user()->set_online(conns.ok() && !conns->empty() && !(*conns)[0].empty());
  co_return r;
}

Task<Status> Accounts::CheckUserExists(uint64_t user_id) {
  if (Status s = ValidateId(user_id, "user_id"); !s.ok()) co_return s;
  if (known_users_.contains(user_id)) co_return Status::Ok();
  auto user = co_await Await<StatusOr<store::UserRecord>>(
      [&](auto cb) { deps_.store.FindUserById(user_id, cb); });
  if (!user.ok()) {
    if (user.status().IsNotFound())
      co_return Status::NotFound("no user " + std::to_string(user_id));
    co_return user.status();
  }
  known_users_.insert(user_id);
  co_return Status::Ok();
}

}  // namespace parley::logic

#include "logic/logic.h"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "common/validation.h"

namespace parley::logic {

namespace asio = boost::asio;

namespace {
// Per-conversation window of the recent-message cache, and how many
// conversations it covers.
constexpr size_t kRecentPerConv = 256;
constexpr size_t kRecentConvs = 50'000;
// Session cache size; cleared wholesale when full (sessions are cheap to reload).
constexpr size_t kSessionCacheMax = 100'000;

template <typename Reply>
Reply ErrorReply(const Status& s) {
  Reply r;
  s.ToProto(r.mutable_error());
  return r;
}
}  // namespace

bool Logic::GroupInfo::Has(uint64_t user) const {
  return std::find(members.begin(), members.end(), user) != members.end();
}

StatusOr<std::unique_ptr<Logic>> Logic::Create(asio::any_io_executor executor, LogicDeps deps) {
  auto hasher = PasswordHasher::Create(deps.options.password_hash_cost, 2);
  if (!hasher.ok()) return hasher.status();
  if (deps.options.node_id > 1023) return Status::InvalidArgument("node id must be 0-1023");
  return std::unique_ptr<Logic>(new Logic(std::move(executor), deps, std::move(hasher).value()));
}

Logic::Logic(asio::any_io_executor executor, LogicDeps deps, std::unique_ptr<PasswordHasher> hasher)
    : strand_(asio::make_strand(executor)),
      deps_(deps),
      limits_(deps.options.limits),
      hasher_(std::move(hasher)),
      ids_(deps.clock, deps.options.node_id),
      sent_(deps.options.storage.idempotency_ttl_ms, deps.options.storage.idempotency_cache_max),
      recent_(kRecentPerConv, kRecentConvs),
      send_limiter_(deps.clock, deps.options.rate.send_per_sec, deps.options.rate.send_burst),
      auth_limiter_(deps.clock, deps.options.rate.auth_per_sec, deps.options.rate.auth_burst) {}

Logic::~Logic() = default;

template <typename R>
void Logic::Run(Task<R> op, Callback<R> done) {
  asio::co_spawn(strand_, std::move(op), [done = std::move(done)](std::exception_ptr e, R reply) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("event=logic_exception what=\"{}\"", ex.what());
      }
      reply = ErrorReply<R>(Status::Internal("internal error"));
    }
    done(std::move(reply));
  });
}

void Logic::Start(Callback<Status> done) {
  asio::co_spawn(
      strand_,
      [this]() -> Task<Status> {
        auto seqs = co_await Await<StatusOr<std::vector<std::pair<std::string, uint64_t>>>>(
            [&](auto cb) { deps_.store.LoadLastSeqs(cb); });
        if (!seqs.ok()) co_return seqs.status();
        for (auto& [conv, seq] : *seqs) last_seq_[conv] = seq;
        const auto& st = deps_.options.storage;
        auto keys = co_await Await<StatusOr<std::vector<store::SentKey>>>([&](auto cb) {
          deps_.store.LoadRecentSent(deps_.clock.NowMs() - st.idempotency_ttl_ms,
                                     st.idempotency_cache_max, cb);
        });
        if (!keys.ok()) co_return keys.status();
        // Oldest first, so that expiry order holds.
        for (auto it = keys->rbegin(); it != keys->rend(); ++it) sent_.Insert(*it);
        sent_.set_lossy(keys->size() >= st.idempotency_cache_max);
        spdlog::info("event=logic_started conversations={} idempotency_keys={} lossy={}",
                     last_seq_.size(), keys->size(), sent_.lossy());
        co_return Status::Ok();
      },
      [done = std::move(done)](std::exception_ptr e, Status s) {
        done(e ? Status::Internal("logic start failed") : s);
      });
}

// ---------------------------------------------------------------- accounts

void Logic::Register(rpc::RegisterRequest req, Callback<rpc::RegisterReply> done) {
  Run(DoRegister(std::move(req)), std::move(done));
}

Logic::Task<rpc::RegisterReply> Logic::DoRegister(rpc::RegisterRequest req) {
  using R = rpc::RegisterReply;
  if (Status s = ValidateUsername(req.username(), limits_); !s.ok()) co_return ErrorReply<R>(s);
  if (Status s = ValidatePassword(req.password(), limits_); !s.ok()) co_return ErrorReply<R>(s);
  int64_t retry = 0;
  if (!auth_limiter_.TryTake(req.client_ip(), &retry)) {
    R r = ErrorReply<R>(Status::RateLimited("too many registrations; retry later"));
    r.mutable_error()->set_retry_after_ms(retry);
    co_return r;
  }
  auto hash =
      co_await Await<StatusOr<std::string>>([&](auto cb) { hasher_->Hash(req.password(), cb); });
  if (!hash.ok()) co_return ErrorReply<R>(hash.status());
  auto user = co_await Await<StatusOr<store::UserRecord>>(
      [&](auto cb) { deps_.store.CreateUser(req.username(), *hash, deps_.clock.NowMs(), cb); });
  if (!user.ok()) {
    if (user.status().IsAlreadyExists())
      co_return ErrorReply<R>(Status::AlreadyExists("username is taken"));
    co_return ErrorReply<R>(user.status());
  }
  known_users_.insert(user->user_id);
  deps_.metrics.registrations.Inc();
  spdlog::info("event=register rid={} user={}", req.request_id(), user->user_id);
  R r;
  r.mutable_user()->set_user_id(user->user_id);
  r.mutable_user()->set_username(user->username);
  co_return r;
}

void Logic::Login(rpc::LoginRequest req, Callback<rpc::LoginReply> done) {
  Run(DoLogin(std::move(req)), std::move(done));
}

Logic::Task<rpc::LoginReply> Logic::DoLogin(rpc::LoginRequest req) {
  using R = rpc::LoginReply;
  static const Status kBadLogin = Status::Unauthenticated("wrong username or password");
  int64_t retry = 0;
  if (!auth_limiter_.TryTake(req.client_ip(), &retry)) {
    R r = ErrorReply<R>(Status::RateLimited("too many login attempts; retry later"));
    r.mutable_error()->set_retry_after_ms(retry);
    co_return r;
  }
  // Malformed credentials cannot match; answer like a wrong password.
  bool plausible = ValidateUsername(req.username(), limits_).ok() &&
                   req.password().size() <= limits_.password_max;
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
  bool ok = co_await Await<bool>([&](auto cb) { hasher_->Verify(req.password(), hash, cb); });
  if (!ok || user_id == 0) co_return ErrorReply<R>(kBadLogin);

  store::SessionRecord session;
  std::string token = NewToken();
  session.token_hash = HashToken(token);
  session.user_id = user_id;
  session.expires_at = deps_.clock.NowMs() + deps_.options.token_ttl_ms;
  Status s = co_await Await<Status>([&](auto cb) { deps_.store.CreateSession(session, cb); });
  if (!s.ok()) co_return ErrorReply<R>(s);
  known_users_.insert(user_id);
  deps_.metrics.logins.Inc();
  spdlog::info("event=login rid={} user={}", req.request_id(), user_id);
  R r;
  r.set_token(token);
  r.set_user_id(user_id);
  r.set_expires_at(session.expires_at);
  co_return r;
}

Logic::Task<StatusOr<store::SessionRecord>> Logic::Authenticate(const std::string& token) {
  if (token.empty()) co_return Status::Unauthenticated("missing bearer token");
  if (token.size() > 256) co_return Status::Unauthenticated("unknown token");
  std::string key = HashToken(token);
  store::SessionRecord session;
  if (auto it = sessions_.find(key); it != sessions_.end()) {
    session = it->second;
  } else {
    auto found = co_await Await<StatusOr<store::SessionRecord>>(
        [&](auto cb) { deps_.store.FindSession(key, cb); });
    if (!found.ok()) {
      if (found.status().IsNotFound())
        co_return Status::Unauthenticated("unknown or revoked token");
      co_return found.status();
    }
    session = *found;
    if (sessions_.size() >= kSessionCacheMax) sessions_.clear();
    sessions_[key] = session;
  }
  if (session.expires_at <= deps_.clock.NowMs()) co_return Status::Unauthenticated("token expired");
  co_return session;
}

void Logic::Logout(rpc::LogoutRequest req, Callback<rpc::LogoutReply> done) {
  Run(DoLogout(std::move(req)), std::move(done));
}

Logic::Task<rpc::LogoutReply> Logic::DoLogout(rpc::LogoutRequest req) {
  using R = rpc::LogoutReply;
  auto session = co_await Authenticate(req.token());
  if (!session.ok()) co_return ErrorReply<R>(session.status());
  sessions_.erase(session->token_hash);
  Status s =
      co_await Await<Status>([&](auto cb) { deps_.store.DeleteSession(session->token_hash, cb); });
  if (!s.ok()) co_return ErrorReply<R>(s);
  // The token is dead; now close its sockets wherever they are.
  rpc::KickRequest kick;
  kick.set_user_id(session->user_id);
  kick.set_session_key(session->token_hash);
  kick.set_close_code(4001);
  kick.set_reason("logged out");
  for (const std::string& node : deps_.connects.AllNodes()) {
    if (auto* c = deps_.connects.Find(node)) c->Kick(kick, [](rpc::KickReply) {});
  }
  spdlog::info("event=logout rid={} user={}", req.request_id(), session->user_id);
  co_return R();
}

void Logic::Auth(rpc::AuthRequest req, Callback<rpc::AuthReply> done) {
  Run(DoAuth(std::move(req)), std::move(done));
}

Logic::Task<rpc::AuthReply> Logic::DoAuth(rpc::AuthRequest req) {
  auto session = co_await Authenticate(req.token());
  if (!session.ok()) co_return ErrorReply<rpc::AuthReply>(session.status());
  rpc::AuthReply r;
  r.set_user_id(session->user_id);
  r.set_expires_at(session->expires_at);
  r.set_session_key(session->token_hash);
  co_return r;
}

void Logic::GetUser(rpc::GetUserRequest req, Callback<rpc::GetUserReply> done) {
  Run(DoGetUser(std::move(req)), std::move(done));
}

Logic::Task<rpc::GetUserReply> Logic::DoGetUser(rpc::GetUserRequest req) {
  using R = rpc::GetUserReply;
  StatusOr<store::UserRecord> user = Status::NotFound("no such user");
  if (req.user_id() != 0) {
    user = co_await Await<StatusOr<store::UserRecord>>(
        [&](auto cb) { deps_.store.FindUserById(req.user_id(), cb); });
  } else if (ValidateUsername(req.username(), limits_).ok()) {
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
  r.mutable_user()->set_online(deps_.presence.IsOnline(user->user_id));
  co_return r;
}

Logic::Task<Status> Logic::CheckUserExists(uint64_t user_id) {
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

// ------------------------------------------------------------------ groups

void Logic::CacheGroup(const rpc::Group& g) {
  GroupInfo& info = groups_[g.group_id()];
  info.owner = g.owner();
  info.name = g.name();
  info.members.assign(g.members().begin(), g.members().end());
}

Logic::Task<StatusOr<const Logic::GroupInfo*>> Logic::LoadGroup(uint64_t group_id) {
  if (Status s = ValidateId(group_id, "group_id"); !s.ok()) co_return s;
  if (auto it = groups_.find(group_id); it != groups_.end()) co_return &it->second;
  auto g =
      co_await Await<StatusOr<rpc::Group>>([&](auto cb) { deps_.store.GetGroup(group_id, cb); });
  if (!g.ok()) {
    if (g.status().IsNotFound()) co_return Status::NotFound("no group " + std::to_string(group_id));
    co_return g.status();
  }
  CacheGroup(*g);
  co_return &groups_[group_id];
}

namespace {
void FillGroup(uint64_t id, const auto& info, rpc::Group* g) {
  g->set_group_id(id);
  g->set_name(info.name);
  g->set_owner(info.owner);
  for (uint64_t m : info.members) g->add_members(m);
}
}  // namespace

void Logic::CreateGroup(rpc::CreateGroupRequest req, Callback<rpc::GroupReply> done) {
  Run(DoCreateGroup(std::move(req)), std::move(done));
}

Logic::Task<rpc::GroupReply> Logic::DoCreateGroup(rpc::CreateGroupRequest req) {
  using R = rpc::GroupReply;
  if (Status s = ValidateGroupName(req.name(), limits_); !s.ok()) co_return ErrorReply<R>(s);
  std::vector<uint64_t> members{req.caller()};
  for (uint64_t m : req.members()) {
    if (std::find(members.begin(), members.end(), m) == members.end()) members.push_back(m);
  }
  if (members.size() > limits_.group_members_max) {
    co_return ErrorReply<R>(Status::InvalidArgument(
        "a group has at most " + std::to_string(limits_.group_members_max) + " members"));
  }
  for (uint64_t m : members) {
    if (Status s = co_await CheckUserExists(m); !s.ok()) co_return ErrorReply<R>(s);
  }
  auto g = co_await Await<StatusOr<rpc::Group>>([&](auto cb) {
    deps_.store.CreateGroup(req.name(), req.caller(), members, deps_.clock.NowMs(), cb);
  });
  if (!g.ok()) co_return ErrorReply<R>(g.status());
  CacheGroup(*g);
  last_seq_.try_emplace(model::ConvId::Group(g->group_id()).ToString(), 0);
  spdlog::info("event=group_create rid={} group={} owner={} members={}", req.request_id(),
               g->group_id(), req.caller(), g->members_size());
  R r;
  *r.mutable_group() = std::move(*g);
  co_return r;
}

void Logic::GetGroup(rpc::GetGroupRequest req, Callback<rpc::GroupReply> done) {
  Run(DoGetGroup(std::move(req)), std::move(done));
}

Logic::Task<rpc::GroupReply> Logic::DoGetGroup(rpc::GetGroupRequest req) {
  using R = rpc::GroupReply;
  auto group = co_await LoadGroup(req.group_id());
  if (!group.ok()) co_return ErrorReply<R>(group.status());
  if (!(*group)->Has(req.caller())) {
    co_return ErrorReply<R>(Status::PermissionDenied("not a member of this group"));
  }
  R r;
  FillGroup(req.group_id(), **group, r.mutable_group());
  co_return r;
}

void Logic::AddMember(rpc::AddMemberRequest req, Callback<rpc::MembershipReply> done) {
  Run(DoAddMember(std::move(req)), std::move(done));
}

Logic::Task<rpc::MembershipReply> Logic::DoAddMember(rpc::AddMemberRequest req) {
  using R = rpc::MembershipReply;
  auto group = co_await LoadGroup(req.group_id());
  if (!group.ok()) co_return ErrorReply<R>(group.status());
  if (!(*group)->Has(req.caller())) {
    co_return ErrorReply<R>(Status::PermissionDenied("only members may add members"));
  }
  if (Status s = co_await CheckUserExists(req.user_id()); !s.ok()) co_return ErrorReply<R>(s);
  // The group may have changed while we waited; look again.
  GroupInfo& info = groups_[req.group_id()];
  if (info.Has(req.user_id())) co_return R();
  if (info.members.size() >= limits_.group_members_max) {
    co_return ErrorReply<R>(Status::InvalidArgument("the group is full"));
  }
  Status s = co_await Await<Status>([&](auto cb) {
    deps_.store.AddGroupMember(req.group_id(), req.user_id(), deps_.clock.NowMs(), cb);
  });
  if (!s.ok()) co_return ErrorReply<R>(s);
  GroupInfo& after = groups_[req.group_id()];
  if (!after.Has(req.user_id())) after.members.push_back(req.user_id());
  spdlog::info("event=group_add rid={} group={} user={} by={}", req.request_id(), req.group_id(),
               req.user_id(), req.caller());
  co_return R();
}

void Logic::RemoveMember(rpc::RemoveMemberRequest req, Callback<rpc::MembershipReply> done) {
  Run(DoRemoveMember(std::move(req)), std::move(done));
}

Logic::Task<rpc::MembershipReply> Logic::DoRemoveMember(rpc::RemoveMemberRequest req) {
  using R = rpc::MembershipReply;
  if (Status s = ValidateId(req.user_id(), "user_id"); !s.ok()) co_return ErrorReply<R>(s);
  auto group = co_await LoadGroup(req.group_id());
  if (!group.ok()) co_return ErrorReply<R>(group.status());
  const GroupInfo& info = **group;
  if (!info.Has(req.caller())) {
    co_return ErrorReply<R>(Status::PermissionDenied("not a member of this group"));
  }
  if (req.user_id() != req.caller() && info.owner != req.caller()) {
    co_return ErrorReply<R>(Status::PermissionDenied("only the owner may remove other members"));
  }
  if (!info.Has(req.user_id())) co_return ErrorReply<R>(Status::NotFound("not a member"));
  auto g = co_await Await<StatusOr<rpc::Group>>(
      [&](auto cb) { deps_.store.RemoveGroupMember(req.group_id(), req.user_id(), cb); });
  if (!g.ok()) co_return ErrorReply<R>(g.status());
  CacheGroup(*g);
  spdlog::info("event=group_remove rid={} group={} user={} by={} owner={}", req.request_id(),
               req.group_id(), req.user_id(), req.caller(), g->owner());
  co_return R();
}

// ----------------------------------------------------------- conversations

Logic::Task<Status> Logic::Authorize(uint64_t user, const model::ConvId& conv) {
  if (!conv.is_group()) {
    if (!conv.HasParticipant(user))
      co_return Status::PermissionDenied("not a participant of this conversation");
    co_return Status::Ok();
  }
  auto group = co_await LoadGroup(conv.group_id());
  if (!group.ok()) co_return group.status();
  if (!(*group)->Has(user)) co_return Status::PermissionDenied("not a member of this group");
  co_return Status::Ok();
}

Logic::Task<std::vector<rpc::ConvState>> Logic::Conversations(uint64_t user_id, Status* status) {
  auto convs = co_await Await<StatusOr<std::vector<rpc::ConvState>>>(
      [&](auto cb) { deps_.store.ListConversations(user_id, cb); });
  if (!convs.ok()) {
    *status = convs.status();
    co_return std::vector<rpc::ConvState>{};
  }
  // The store lags the log by the persist consumer; the counters do not.
  for (rpc::ConvState& c : *convs) {
    if (auto it = last_seq_.find(c.conv()); it != last_seq_.end() && it->second > c.last_seq()) {
      c.set_last_seq(it->second);
      c.set_last_ts(std::max(c.last_ts(), deps_.clock.NowMs()));
    }
  }
  // Private conversations so new that the store may not list them yet.
  new_private_.Expire(deps_.clock.NowMs());
  for (const auto& [conv, peer] : new_private_.Of(user_id)) {
    bool listed = std::any_of(convs->begin(), convs->end(),
                              [&](const rpc::ConvState& c) { return c.conv() == conv; });
    if (listed) continue;
    rpc::ConvState& c = convs->emplace_back();
    c.set_conv(conv);
    c.set_peer(peer);
    c.set_last_seq(last_seq_[conv]);
    c.set_last_ts(deps_.clock.NowMs());
  }
  std::stable_sort(convs->begin(), convs->end(),
                   [](const auto& a, const auto& b) { return a.last_ts() > b.last_ts(); });
  co_return std::move(*convs);
}

void Logic::ListConversations(rpc::ListConversationsRequest req,
                              Callback<rpc::ListConversationsReply> done) {
  Run(DoListConversations(std::move(req)), std::move(done));
}

Logic::Task<rpc::ListConversationsReply> Logic::DoListConversations(
    rpc::ListConversationsRequest req) {
  Status s;
  auto convs = co_await Conversations(req.user_id(), &s);
  if (!s.ok()) co_return ErrorReply<rpc::ListConversationsReply>(s);
  rpc::ListConversationsReply r;
  for (auto& c : convs) *r.add_convs() = std::move(c);
  co_return r;
}

void Logic::Sync(rpc::SyncRequest req, Callback<rpc::SyncReply> done) {
  Run(DoSync(std::move(req)), std::move(done));
}

Logic::Task<rpc::SyncReply> Logic::DoSync(rpc::SyncRequest req) {
  using R = rpc::SyncReply;
  auto conv = model::ConvId::Parse(req.conv());
  if (!conv) co_return ErrorReply<R>(Status::InvalidArgument("conv is not a conversation id"));
  uint32_t limit = req.limit() == 0 ? limits_.page_limit_default : req.limit();
  if (Status s = ValidateLimit(limit, limits_); !s.ok()) co_return ErrorReply<R>(s);
  if (Status s = co_await Authorize(req.user_id(), *conv); !s.ok()) co_return ErrorReply<R>(s);

  uint64_t last = 0;
  if (auto it = last_seq_.find(req.conv()); it != last_seq_.end()) last = it->second;
  // The wanted range [lo, hi] and whether more lie beyond it.
  uint64_t lo, hi;
  bool backwards = req.before_seq() > 0;
  if (backwards) {
    hi = std::min(req.before_seq() - 1, last);
    lo = hi >= limit ? hi - limit + 1 : 1;
  } else if (req.has_after()) {
    lo = req.after_seq() + 1;
    hi = std::min<uint64_t>(last, req.after_seq() + limit);
  } else {
    hi = last;
    lo = hi >= limit ? hi - limit + 1 : 1;
  }
  R r;
  r.set_conv(req.conv());
  if (lo > hi) {
    r.set_has_more(backwards && hi >= 1);
    co_return r;
  }
  uint64_t cached_from = recent_.FirstSeq(req.conv());
  uint64_t got = lo - 1;
  if (cached_from == 0 || lo < cached_from) {
    auto page = co_await Await<StatusOr<store::MessagePage>>([&](auto cb) {
      deps_.store.GetMessages(req.conv(), lo - 1, true, 0, static_cast<uint32_t>(hi - lo + 1), cb);
    });
    if (!page.ok()) co_return ErrorReply<R>(page.status());
    for (auto& m : page->messages) {
      if (m.seq() != got + 1 || m.seq() > hi) break;
      got = m.seq();
      *r.add_messages() = std::move(m);
    }
  }
  // Newer than the store: from the recent cache, if contiguous.
  if (got < hi) got = recent_.Copy(req.conv(), got + 1, hi, r.mutable_messages());
  if (backwards || !req.has_after()) {
    r.set_has_more(lo > 1);  // paging backwards: older messages exist
  } else {
    r.set_has_more(got < last);
  }
  co_return r;
}

void Logic::Read(rpc::ReadRequest req, Callback<rpc::ReadReply> done) {
  Run(DoRead(std::move(req)), std::move(done));
}

Logic::Task<rpc::ReadReply> Logic::DoRead(rpc::ReadRequest req) {
  using R = rpc::ReadReply;
  auto conv = model::ConvId::Parse(req.conv());
  if (!conv) co_return ErrorReply<R>(Status::InvalidArgument("conv is not a conversation id"));
  if (Status s = co_await Authorize(req.user_id(), *conv); !s.ok()) co_return ErrorReply<R>(s);
  uint64_t last = 0;
  if (auto it = last_seq_.find(req.conv()); it != last_seq_.end()) last = it->second;
  uint64_t seq = std::min(req.seq(), last);
  if (seq == 0) co_return R();
  auto cursor = co_await Await<StatusOr<uint64_t>>(
      [&](auto cb) { deps_.store.SetReadSeq(req.user_id(), req.conv(), seq, cb); });
  if (!cursor.ok()) co_return ErrorReply<R>(cursor.status());
  rpc::ReadReceipt receipt;
  receipt.set_conv(req.conv());
  receipt.set_user_id(req.user_id());
  receipt.set_seq(*cursor);
  receipt.set_origin_node(req.origin_node());
  receipt.set_origin_conn(req.origin_conn());
  std::vector<uint64_t> users;
  if (conv->is_group()) {
    users = groups_[conv->group_id()].members;
  } else {
    users = {conv->a};
    if (conv->b != conv->a) users.push_back(conv->b);
  }
  PushRead(receipt, users);
  co_return R();
}

void Logic::PushRead(const rpc::ReadReceipt& receipt, const std::vector<uint64_t>& users) {
  std::unordered_map<std::string, rpc::PushRequest> by_node;
  for (uint64_t u : users) {
    for (const std::string& node : deps_.presence.NodesOf(u)) {
      auto& req = by_node[node];
      if (req.events_size() == 0) *req.add_events()->mutable_read() = receipt;
      req.mutable_events(0)->add_user_ids(u);
    }
  }
  for (auto& [node, req] : by_node) {
    if (auto* c = deps_.connects.Find(node)) c->Push(std::move(req), [](rpc::PushReply) {});
  }
}

// ------------------------------------------------------------- connections

void Logic::Connect(rpc::ConnectRequest req, Callback<rpc::ConnectReply> done) {
  Run(DoConnect(std::move(req)), std::move(done));
}

Logic::Task<rpc::ConnectReply> Logic::DoConnect(rpc::ConnectRequest req) {
  using R = rpc::ConnectReply;
  auto session = co_await Authenticate(req.token());
  if (!session.ok()) co_return ErrorReply<R>(session.status());
  // Presence first: a message accepted from now on is pushed to this
  // connection, and anything older is in the hello list below.
  deps_.presence.Add(session->user_id, {req.node_id(), req.conn_id()});
  Status s;
  auto convs = co_await Conversations(session->user_id, &s);
  if (!s.ok()) {
    deps_.presence.Remove(session->user_id, {req.node_id(), req.conn_id()});
    co_return ErrorReply<R>(s);
  }
  R r;
  r.set_user_id(session->user_id);
  r.set_session_key(session->token_hash);
  r.set_expires_at(session->expires_at);
  for (auto& c : convs) *r.add_convs() = std::move(c);
  co_return r;
}

void Logic::Disconnect(rpc::DisconnectRequest req, Callback<rpc::DisconnectReply> done) {
  deps_.presence.Remove(req.user_id(), {req.node_id(), req.conn_id()});
  done(rpc::DisconnectReply());
}

void Logic::Ready(Callback<Status> done) {
  deps_.store.Ping([done = std::move(done)](Status s) {
    done(s.ok() ? s : Status::Unavailable("store: " + s.message()));
  });
}

// -------------------------------------------------------------- send path

void Logic::Send(rpc::SendRequest req, Callback<rpc::SendReply> done) {
  asio::post(strand_, [this, req = std::move(req), done = std::move(done)]() mutable {
    PendingSend send{std::move(req), std::move(done), {}, {}, deps_.clock.MonotonicNs()};
    const rpc::SendRequest& r = send.req;
    Status s = ValidateClientId(r.client_id());
    if (s.ok()) s = ValidateId(r.from(), "from");
    if (s.ok() && (r.to_user() == 0) == (r.to_group() == 0)) {
      s = Status::InvalidArgument("exactly one of to_user and to_group is required");
    }
    if (s.ok())
      s = r.to_user() ? ValidateId(r.to_user(), "to_user") : ValidateId(r.to_group(), "to_group");
    if (s.ok()) s = ValidateBody(r.body(), limits_);
    if (!s.ok()) return Reply(send, s);
    int64_t retry = 0;
    if (!send_limiter_.TryTake(r.from(), &retry)) {
      return Reply(send, Status::RateLimited("sending too fast"), retry);
    }
    send.key = IdempotencyCache::Key(r.from(), r.client_id());
    send.conv = r.to_user() ? model::ConvId::Private(r.from(), r.to_user()).ToString()
                            : model::ConvId::Group(r.to_group()).ToString();
    waiting_.push_back(std::move(send));
    AdmitSends();
  });
}

void Logic::Reply(PendingSend& send, const Status& status, int64_t retry_after_ms) {
  rpc::SendReply reply;
  reply.set_client_id(send.req.client_id());
  status.ToProto(reply.mutable_error());
  if (retry_after_ms) reply.mutable_error()->set_retry_after_ms(retry_after_ms);
  deps_.metrics.errors.Inc(status.code());
  send.done(std::move(reply));
}

Logic::Admission Logic::Admit(PendingSend& send) {
  const rpc::SendRequest& r = send.req;
  // A resend answers with the first ack (or waits for it).
  rpc::SendReply ack;
  switch (sent_.Find(send.key, &ack, &send.done)) {
    case IdempotencyCache::Lookup::kDone:
      deps_.metrics.messages_duplicate.Inc();
      send.done(std::move(ack));
      return Admission::kAnswered;
    case IdempotencyCache::Lookup::kPending:
      deps_.metrics.messages_duplicate.Inc();
      return Admission::kAnswered;
    case IdempotencyCache::Lookup::kMiss:
      break;
  }
  if (sent_.lossy() && !unsent_keys_.contains(send.key)) {
    if (sent_lookups_.insert(send.key).second) {
      deps_.store.FindSent(r.from(), r.client_id(),
                           [this, key = send.key](StatusOr<store::SentKey> found) {
                             asio::post(strand_, [this, key, found = std::move(found)] {
                               sent_lookups_.erase(key);
                               if (found.ok())
                                 sent_.Insert(*found);
                               else
                                 unsent_keys_.insert(key);
                               AdmitSends();
                             });
                           });
    }
    return Admission::kWait;
  }
  if (r.to_user()) {
    uint64_t to = r.to_user();
    if (!known_users_.contains(to)) {
      if (missing_users_.contains(to)) {
        Reply(send, Status::NotFound("no user " + std::to_string(to)));
        return Admission::kRejected;
      }
      if (user_lookups_.insert(to).second) {
        deps_.store.FindUserById(to, [this, to](StatusOr<store::UserRecord> u) {
          asio::post(strand_, [this, to, ok = u.ok()] {
            user_lookups_.erase(to);
            if (ok)
              known_users_.insert(to);
            else
              missing_users_.insert(to);
            AdmitSends();
          });
        });
      }
      return Admission::kWait;
    }
  } else {
    uint64_t gid = r.to_group();
    auto it = groups_.find(gid);
    if (it == groups_.end()) {
      if (missing_groups_.contains(gid)) {
        Reply(send, Status::NotFound("no group " + std::to_string(gid)));
        return Admission::kRejected;
      }
      if (group_lookups_.insert(gid).second) {
        deps_.store.GetGroup(gid, [this, gid](StatusOr<rpc::Group> g) {
          asio::post(strand_, [this, gid, g = std::move(g)] {
            group_lookups_.erase(gid);
            if (g.ok())
              CacheGroup(*g);
            else
              missing_groups_.insert(gid);
            AdmitSends();
          });
        });
      }
      return Admission::kWait;
    }
    if (!it->second.Has(r.from())) {
      Reply(send, Status::PermissionDenied("not a member of this group"));
      return Admission::kRejected;
    }
  }
  sent_.AddPending(send.key, deps_.clock.NowMs());
  return Admission::kReady;
}

void Logic::AdmitSends() {
  while (!waiting_.empty()) {
    Admission a = Admit(waiting_.front());
    if (a == Admission::kWait) break;
    if (a == Admission::kReady) ready_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  if (waiting_.empty()) {
    missing_users_.clear();
    missing_groups_.clear();
    unsent_keys_.clear();
  }
  FlushSends();
}

void Logic::FlushSends() {
  if (appending_ || ready_.empty()) return;
  appending_ = true;
  std::vector<PendingSend> batch;
  batch.swap(ready_);
  std::vector<rpc::ChatMessage> messages;
  messages.reserve(batch.size());
  std::unordered_map<std::string, uint64_t> seqs_before;  // conv -> last seq before this batch
  int64_t now = deps_.clock.NowMs();
  new_private_.Expire(now);
  for (PendingSend& send : batch) {
    uint64_t& last = last_seq_[send.conv];
    if (last == 0 && send.req.to_user() != 0) {
      new_private_.Add(send.conv, send.req.from(), send.req.to_user(), now);
    }
    seqs_before.try_emplace(send.conv, last);
    rpc::ChatMessage& m = messages.emplace_back();
    m.set_msg_id(ids_.Next());
    m.set_conv(send.conv);
    m.set_seq(++last);
    m.set_from(send.req.from());
    m.set_to_user(send.req.to_user());
    m.set_to_group(send.req.to_group());
    m.set_body(send.req.body());
    m.set_ts(now);
    m.set_client_id(send.req.client_id());
    m.set_request_id(send.req.request_id());
    m.set_origin_node(send.req.origin_node());
    m.set_origin_conn(send.req.origin_conn());
  }
  int64_t started = deps_.clock.MonotonicNs();
  auto copy = messages;  // the log takes its own; we keep ours for the acks and cache
  deps_.log.Append(
      std::move(copy), [this, batch = std::move(batch), messages = std::move(messages),
                        seqs_before = std::move(seqs_before), started](Status s) mutable {
        deps_.metrics.commit_latency.ObserveNs(deps_.clock.MonotonicNs() - started);
        asio::post(strand_, [this, batch = std::move(batch), messages = std::move(messages),
                             seqs_before = std::move(seqs_before), s = std::move(s)]() mutable {
          OnAppended(std::move(batch), std::move(messages), std::move(seqs_before), std::move(s));
        });
      });
}

void Logic::OnAppended(std::vector<PendingSend> batch, std::vector<rpc::ChatMessage> messages,
                       std::unordered_map<std::string, uint64_t> seqs_before, Status status) {
  appending_ = false;
  if (!status.ok()) {
    // Nothing of the batch is durable: give its seqs back (no later seq was
    // handed out, as only one append is in flight) and fail every send.
    for (auto& [conv, seq] : seqs_before) last_seq_[conv] = seq;
    spdlog::error("event=append_failed count={} error=\"{}\"", batch.size(), status.message());
    Status unavailable = Status::Unavailable("message log unavailable; retry");
    for (PendingSend& send : batch) {
      for (auto& waiter : sent_.Fail(send.key)) {
        PendingSend w{send.req, std::move(waiter), {}, {}, 0};
        Reply(w, unavailable);
      }
      Reply(send, unavailable);
    }
  } else {
    int64_t now_ns = deps_.clock.MonotonicNs();
    for (size_t i = 0; i < batch.size(); ++i) {
      const rpc::ChatMessage& m = messages[i];
      rpc::SendReply ack;
      ack.set_client_id(m.client_id());
      ack.set_msg_id(m.msg_id());
      ack.set_conv(m.conv());
      ack.set_seq(m.seq());
      ack.set_ts(m.ts());
      recent_.Add(m);
      SPDLOG_DEBUG("event=accepted rid={} from={} conv={} seq={} msg_id={}", m.request_id(),
                   m.from(), m.conv(), m.seq(), m.msg_id());
      for (auto& waiter : sent_.Complete(batch[i].key, ack)) waiter(ack);
      deps_.metrics.send_latency.ObserveNs(now_ns - batch[i].received_ns);
      batch[i].done(std::move(ack));
    }
    deps_.metrics.messages_accepted.Inc(batch.size());
    sent_.Expire(deps_.clock.NowMs());
  }
  FlushSends();
}

}  // namespace parley::logic

#include "logic/logic.h"

#include "logic/conversation_page.h"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

namespace parley::logic {

namespace asio = boost::asio;

namespace {
const Status& DeadlineExceeded() {
  static const Status kStatus = Status::Unavailable("deadline exceeded");
  return kStatus;
}

// A zero rate or bound would refuse every group or page: a mistake, not a policy.
Status ValidateGroupOptions(const Options& o) {
  if (o.limits.groups_per_user_max == 0) {
    return Status::InvalidArgument("limits.groups_per_user_max must be at least 1");
  }
  if (o.limits.conversations_page_max == 0) {
    return Status::InvalidArgument("limits.conversations_page_max must be at least 1");
  }
  if (!(o.rate.group_create_per_sec > 0) || !(o.rate.group_create_burst >= 1)) {
    return Status::InvalidArgument(
        "rate.group_create_per_sec must be above 0 and rate.group_create_burst at least 1");
  }
  if (!(o.rate.group_add_per_sec > 0) || !(o.rate.group_add_burst >= 1)) {
    return Status::InvalidArgument(
        "rate.group_add_per_sec must be above 0 and rate.group_add_burst at least 1");
  }
  return Status::Ok();
}
}  // namespace

StatusOr<std::unique_ptr<Logic>> Logic::Create(asio::any_io_executor executor, LogicDeps deps) {
  auto hasher =
      PasswordHasher::Create(deps.options.password_hash_cost, deps.options.password_hash_threads,
                             deps.options.password_hash_queue_max);
  if (!hasher.ok()) return hasher.status();
  if (deps.options.node_id > 1023) return Status::InvalidArgument("node id must be 0-1023");
  if (Status s = ValidateGroupOptions(deps.options); !s.ok()) return s;
  return std::unique_ptr<Logic>(new Logic(std::move(executor), deps, std::move(hasher).value()));
}

Logic::Logic(asio::any_io_executor executor, LogicDeps deps, std::unique_ptr<PasswordHasher> hasher)
    : strand_(asio::make_strand(executor)),
      deps_(deps),
      accounts_(deps_, std::move(hasher)),
      fanout_(deps_),
      groups_(deps_, accounts_),
      history_(deps_, groups_, fanout_),
      sends_(strand_, deps_, accounts_),
      purger_(executor, deps_.store, deps_.clock, deps_.options.session_purge_interval_ms) {}

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

bool Logic::Expired(const CallContext& ctx) const {
  return ctx.deadline_ms != 0 && ctx.deadline_ms <= deps_.clock.NowMs();
}

template <typename R, typename Op>
Task<R> Logic::AsCaller(CallContext ctx, Op op) {
  if (Expired(ctx)) co_return ErrorReply<R>(DeadlineExceeded());
  auto caller = co_await accounts_.Authenticate(ctx);
  if (!caller.ok()) co_return ErrorReply<R>(caller.status());
  co_return co_await op(*caller, ctx);
}

template <typename R, typename Op>
void Logic::RunAs(CallContext ctx, Callback<R> done, Op op) {
  Run(AsCaller<R>(std::move(ctx), std::move(op)), std::move(done));
}

// ---------------------------------------------------------------- accounts

void Logic::Register(CallContext ctx, rpc::RegisterRequest req, Callback<rpc::RegisterReply> done) {
  if (Expired(ctx)) return done(ErrorReply<rpc::RegisterReply>(DeadlineExceeded()));
  Run(accounts_.Register(std::move(ctx), std::move(req)), std::move(done));
}

void Logic::Login(CallContext ctx, rpc::LoginRequest req, Callback<rpc::LoginReply> done) {
  if (Expired(ctx)) return done(ErrorReply<rpc::LoginReply>(DeadlineExceeded()));
  Run(accounts_.Login(std::move(ctx), std::move(req)), std::move(done));
}

void Logic::Logout(CallContext ctx, rpc::LogoutRequest, Callback<rpc::LogoutReply> done) {
  Run(DoLogout(std::move(ctx)), std::move(done));
}

Task<rpc::LogoutReply> Logic::DoLogout(CallContext ctx) {
  using R = rpc::LogoutReply;
  if (Expired(ctx)) co_return ErrorReply<R>(DeadlineExceeded());
  auto caller = co_await accounts_.Authenticate(ctx);
  if (!caller.ok()) co_return ErrorReply<R>(caller.status());
  Status s = co_await accounts_.Logout(*caller, ctx.request_id);
  if (!s.ok()) co_return ErrorReply<R>(s);
  // The session is dead on every node; now close its sockets wherever they are.
  fanout_.KickSession(caller->user_id, caller->session_key, 4001, "logged out");
  co_return R();
}

void Logic::Auth(CallContext ctx, rpc::AuthRequest, Callback<rpc::AuthReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [](const Caller& c, const CallContext&) -> Task<rpc::AuthReply> {
          rpc::AuthReply r;
          r.set_user_id(c.user_id);
          r.set_expires_at(c.expires_at);
          r.set_session_key(c.session_key);
          co_return r;
        });
}

void Logic::GetUser(CallContext ctx, rpc::GetUserRequest req, Callback<rpc::GetUserReply> done) {
  RunAs(
      std::move(ctx), std::move(done),
      [this, req = std::move(req)](const Caller& c, const CallContext&) -> Task<rpc::GetUserReply> {
        rpc::GetUserRequest wanted = req;
        // Neither an id nor a name: the caller itself (GET /api/v1/users/me).
        if (wanted.user_id() == 0 && wanted.username().empty()) wanted.set_user_id(c.user_id);
        return accounts_.GetUser(c, std::move(wanted), [this, c](uint64_t user_id) {
          return SharesConversation(c.user_id, user_id);
        });
      });
}

Task<bool> Logic::SharesConversation(uint64_t caller, uint64_t user_id) {
  auto convs = co_await history_.Conversations(caller);
  if (!convs.ok()) co_return false;
  for (const auto& c : *convs) {
    if (c.peer() == user_id) co_return true;
  }
  for (const auto& c : *convs) {
    if (c.group_id() == 0) continue;
    auto group = co_await Await<StatusOr<state::GroupPtr>>(
        [&](auto cb) { deps_.groups.Get(c.group_id(), cb); });
    if (!group.ok()) continue;
    for (uint64_t m : (*group)->members()) {
      if (m == user_id) co_return true;
    }
  }
  co_return false;
}

// ------------------------------------------------------------------ groups

void Logic::CreateGroup(CallContext ctx, rpc::CreateGroupRequest req,
                        Callback<rpc::GroupReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext& ctx) {
          return groups_.Create(c, ctx, req);
        });
}

void Logic::GetGroup(CallContext ctx, rpc::GetGroupRequest req, Callback<rpc::GroupReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext&) {
          return groups_.Get(c, req);
        });
}

void Logic::AddMember(CallContext ctx, rpc::AddMemberRequest req,
                      Callback<rpc::MembershipReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext& ctx) {
          return groups_.AddMember(c, ctx, req);
        });
}

void Logic::RemoveMember(CallContext ctx, rpc::RemoveMemberRequest req,
                         Callback<rpc::MembershipReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext& ctx) {
          return groups_.RemoveMember(c, ctx, req);
        });
}

void Logic::Settings(CallContext ctx, rpc::SettingsRequest req, Callback<rpc::SettingsReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext& ctx) {
          return groups_.Settings(c, ctx, req);
        });
}

// ----------------------------------------------------------------- history

void Logic::ListConversations(CallContext ctx, rpc::ListConversationsRequest req,
                              Callback<rpc::ListConversationsReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext&) {
          return DoListConversations(c, req);
        });
}

Task<rpc::ListConversationsReply> Logic::DoListConversations(Caller caller,
                                                             rpc::ListConversationsRequest req) {
  using R = rpc::ListConversationsReply;
  const uint32_t page_max = deps_.options.limits.conversations_page_max;
  const uint32_t limit = req.limit() == 0 ? page_max : req.limit();
  if (limit > page_max) {
    co_return ErrorReply<R>(
        Status::InvalidArgument("limit must be 1 to " + std::to_string(page_max)));
  }
  auto convs = co_await history_.Conversations(caller.user_id);
  if (!convs.ok()) co_return ErrorReply<R>(convs.status());
  auto page = PageConversations(std::move(*convs), req.before(), limit);
  if (!page.ok()) co_return ErrorReply<R>(page.status());
  R r;
  for (auto& c : page->convs) *r.add_convs() = std::move(c);
  r.set_has_more(page->has_more);
  r.set_next(std::move(page->next));
  co_return r;
}

void Logic::Sync(CallContext ctx, rpc::SyncRequest req, Callback<rpc::SyncReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext&) {
          return history_.Sync(c, req);
        });
}

void Logic::Read(CallContext ctx, rpc::ReadRequest req, Callback<rpc::ReadReply> done) {
  RunAs(std::move(ctx), std::move(done),
        [this, req = std::move(req)](const Caller& c, const CallContext& ctx) {
          return history_.Read(c, ctx, req);
        });
}

// -------------------------------------------------------------- send path

void Logic::Send(CallContext ctx, rpc::SendBatch req, Callback<rpc::SendBatchReply> done) {
  // The hot path, without a coroutine: the session is looked up from the
  // caller's thread (the embedded SessionStore answers from memory, inline),
  // and one post brings the answer to the strand.
  struct Call {
    CallContext ctx;
    rpc::SendBatch batch;
    Callback<rpc::SendBatchReply> done;
    std::string key;
  };
  auto call = std::make_shared<Call>(Call{std::move(ctx), std::move(req), std::move(done), {}});
  auto fail = [this](Call& c, const Status& s) {
    deps_.metrics.errors.Inc(s.code());
    c.done(FailedBatch(c.batch, s));
  };
  auto key = Accounts::SessionKeyOf(call->ctx);
  if (Expired(call->ctx) || !key.ok()) {
    Status s = key.ok() ? DeadlineExceeded() : key.status();
    return asio::post(strand_, [call, fail, s] { fail(*call, s); });
  }
  call->key = std::move(*key);
  deps_.sessions.Find(call->key, [this, call, fail](StatusOr<state::Session> session) {
    asio::post(strand_, [this, call, fail, session = std::move(session)] {
      auto caller = accounts_.CallerOf(call->ctx, std::move(call->key), session);
      if (!caller.ok()) return fail(*call, caller.status());
      sends_.Send(*caller, call->ctx, std::move(call->batch), std::move(call->done));
    });
  });
}

// ------------------------------------------------------------- connections

void Logic::Connect(CallContext ctx, rpc::ConnectRequest req, Callback<rpc::ConnectReply> done) {
  Run(DoConnect(std::move(ctx), std::move(req)), std::move(done));
}

Task<rpc::ConnectReply> Logic::DoConnect(CallContext ctx, rpc::ConnectRequest req) {
  using R = rpc::ConnectReply;
  if (Expired(ctx)) co_return ErrorReply<R>(DeadlineExceeded());
  auto caller = co_await accounts_.Authenticate(ctx);
  if (!caller.ok()) co_return ErrorReply<R>(caller.status());
  // Presence first: a message accepted from now on is pushed to this
  // connection, and anything older is in the hello list below.
  presence::Connection conn{caller->user_id, req.node_id(), req.node_epoch(), req.conn_id()};
  Status s = co_await Await<Status>([&](auto cb) { deps_.presence.Add(conn, cb); });
  if (!s.ok()) co_return ErrorReply<R>(Status::Unavailable("presence unavailable: " + s.message()));
  auto convs = co_await history_.Conversations(caller->user_id);
  StatusOr<ConversationPage> page =
      convs.ok()
          ? PageConversations(std::move(*convs), "", deps_.options.limits.conversations_page_max)
          : StatusOr<ConversationPage>(convs.status());
  if (!page.ok()) {
    co_await Await<Status>([&](auto cb) { deps_.presence.Remove(conn, cb); });
    co_return ErrorReply<R>(page.status());
  }
  R r;
  r.set_user_id(caller->user_id);
  r.set_session_key(caller->session_key);
  r.set_expires_at(caller->expires_at);
  for (auto& c : page->convs) *r.add_convs() = std::move(c);
  r.set_has_more(page->has_more);
  r.set_next(std::move(page->next));
  co_return r;
}

void Logic::Disconnect(CallContext ctx, rpc::DisconnectRequest req,
                       Callback<rpc::DisconnectReply> done) {
  // No session check: a socket closing after its logout still leaves.
  presence::Connection conn{ctx.user_id, req.node_id(), req.node_epoch(), req.conn_id()};
  deps_.presence.Remove(std::move(conn), [done = std::move(done)](Status s) {
    rpc::DisconnectReply r;
    if (!s.ok()) s.ToProto(r.mutable_error());
    done(std::move(r));
  });
}

void Logic::Ready(CallContext, Callback<Status> done) {
  deps_.store.Ping([done = std::move(done)](Status s) {
    done(s.ok() ? s : Status::Unavailable("store: " + s.message()));
  });
}

}  // namespace parley::logic

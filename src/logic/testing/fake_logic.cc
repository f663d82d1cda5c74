#include "logic/testing/fake_logic.h"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>

#include "model/conversation.h"

namespace parley::logic::testing {

namespace {

constexpr int64_t kTokenTtlMs = 24LL * 3600 * 1000;

// The reply to a call refused before the model ran (deadline, credentials).
template <typename Reply, typename Req>
Reply ErrorReply(const Status& status, const Req&) {
  Reply reply;
  status.ToProto(reply.mutable_error());
  return reply;
}
// A batch has no error of its own: each of its messages gets it.
template <>
rpc::SendBatchReply ErrorReply<rpc::SendBatchReply, rpc::SendBatch>(const Status& status,
                                                                    const rpc::SendBatch& batch) {
  rpc::SendBatchReply reply;
  for (const rpc::SendRequest& r : batch.requests()) {
    rpc::SendReply* one = reply.add_replies();
    one->set_client_id(r.client_id());
    status.ToProto(one->mutable_error());
  }
  return reply;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

FakeLogic::FakeLogic()
    : own_clock_(std::make_unique<SystemClock>()),
      clock_(*own_clock_),
      work_(io_.get_executor()),
      thread_([this] { io_.run(); }) {}

FakeLogic::FakeLogic(const Clock& clock)
    : clock_(clock), work_(io_.get_executor()), thread_([this] { io_.run(); }) {}

FakeLogic::~FakeLogic() {
  {
    std::lock_guard lock(mu_);
    for (auto& held : held_) held.clear();
  }
  work_.reset();
  io_.stop();
  thread_.join();
}

// ---- the model ----

uint64_t FakeLogic::AddUser(const std::string& username, const std::string& password) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_user_id_++;
  users_[id] = User{id, username, password};
  return id;
}

void FakeLogic::AddToken(const std::string& token, uint64_t user_id,
                         const std::string& session_key) {
  std::lock_guard lock(mu_);
  tokens_[token] = Session{user_id, session_key};
  if (!users_.contains(user_id)) {
    users_[user_id] = User{user_id, "user" + std::to_string(user_id), ""};
  }
  next_user_id_ = std::max(next_user_id_, user_id + 1);
}

void FakeLogic::SetSendBudget(int n) {
  std::lock_guard lock(mu_);
  send_budget_ = n;
}

void FakeLogic::SetReady(Status status) {
  std::lock_guard lock(mu_);
  ready_ = std::move(status);
}

std::vector<rpc::ChatMessage> FakeLogic::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

// ---- scripting and recording ----

void FakeLogic::Hold(Method method) {
  std::lock_guard lock(mu_);
  holding_[static_cast<int>(method)] = true;
}

size_t FakeLogic::Release(Method method, size_t n, bool stop_holding) {
  std::vector<std::function<void()>> out;
  {
    std::lock_guard lock(mu_);
    auto& held = held_[static_cast<int>(method)];
    n = std::min(n, held.size());
    out.assign(std::make_move_iterator(held.begin()), std::make_move_iterator(held.begin() + n));
    held.erase(held.begin(), held.begin() + n);
    if (stop_holding) holding_[static_cast<int>(method)] = false;
  }
  for (auto& reply : out) boost::asio::post(io_, std::move(reply));
  return out.size();
}

size_t FakeLogic::held(Method method) const {
  std::lock_guard lock(mu_);
  return held_[static_cast<int>(method)].size();
}

std::vector<CallContext> FakeLogic::Contexts(Method method) const {
  std::vector<CallContext> out;
  std::lock_guard lock(mu_);
  for (const Call& c : calls_) {
    if (c.method == method) out.push_back(c.ctx);
  }
  return out;
}

size_t FakeLogic::call_count(Method method) const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(),
                                           [&](const Call& c) { return c.method == method; }));
}

bool FakeLogic::WaitForCalls(Method method, size_t n) const {
  std::unique_lock lock(mu_);
  return calls_changed_.wait_for(lock, std::chrono::seconds(10), [&] {
    return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(), [&](const Call& c) {
             return c.method == method;
           })) >= n;
  });
}

void FakeLogic::Answer(Method method, std::function<void()> reply) {
  {
    std::lock_guard lock(mu_);
    if (holding_[static_cast<int>(method)]) {
      held_[static_cast<int>(method)].push_back(std::move(reply));
      return;
    }
  }
  boost::asio::post(io_, std::move(reply));
}

template <typename Req, typename Reply, typename Model>
void FakeLogic::Handle(Method method, const CallContext& ctx, const Req& req,
                       bool needs_credentials, Callback<Reply> done, Model model) {
  Reply reply;
  {
    std::lock_guard lock(mu_);
    calls_.push_back(Call{method, ctx, std::make_shared<Req>(req)});
    calls_changed_.notify_all();
    Status refused;
    Session caller;
    if (ctx.deadline_ms != 0 && clock_.NowMs() > ctx.deadline_ms) {
      refused = Status::Unavailable("deadline exceeded");
    } else if (needs_credentials) {
      StatusOr<Session> s = ResolveLocked(ctx);
      if (s.ok()) {
        caller = *s;
      } else {
        refused = s.status();
      }
    }
    if (!refused.ok()) {
      reply = ErrorReply<Reply>(refused, req);
    } else if (auto it = scripts_.find(Req::descriptor()); it != scripts_.end()) {
      reply = static_cast<ScriptFn<Req, Reply>&>(*it->second).fn(ctx, req);
    } else {
      reply = model(caller);
    }
  }
  Answer(method,
         [done = std::move(done), reply = std::move(reply)]() mutable { done(std::move(reply)); });
}

StatusOr<FakeLogic::Session> FakeLogic::ResolveLocked(const CallContext& ctx) const {
  if (!ctx.token.empty()) {
    auto it = tokens_.find(ctx.token);
    if (it == tokens_.end()) return Status::Unauthenticated("invalid or expired token");
    return it->second;
  }
  if (ctx.user_id != 0) {
    for (const auto& [token, session] : tokens_) {
      if (session.user_id == ctx.user_id && session.session_key == ctx.session_key) {
        return session;
      }
    }
    return Status::Unauthenticated("session revoked");
  }
  return Status::Unauthenticated("missing credentials");
}

bool FakeLogic::IsMemberLocked(uint64_t group_id, uint64_t user) const {
  auto it = groups_.find(group_id);
  return it != groups_.end() && std::find(it->second.members.begin(), it->second.members.end(),
                                          user) != it->second.members.end();
}

Status FakeLogic::CanSeeLocked(const std::string& conv, uint64_t user) const {
  auto id = model::ConvId::Parse(conv);
  if (!id) return Status::InvalidArgument("conv is not a conversation id");
  bool ok = id->is_group() ? IsMemberLocked(id->group_id(), user) : id->HasParticipant(user);
  return ok ? Status::Ok() : Status::PermissionDenied("not a participant");
}

Status FakeLogic::CheckMemberLocked(uint64_t group_id, uint64_t user) const {
  if (!groups_.contains(group_id)) return Status::NotFound("no such group");
  if (!IsMemberLocked(group_id, user)) return Status::PermissionDenied("not a member");
  return Status::Ok();
}

void FakeLogic::FillGroupLocked(uint64_t group_id, rpc::Group& out) const {
  const Group& g = groups_.at(group_id);
  out.set_group_id(group_id);
  out.set_name(g.name);
  out.set_owner(g.owner);
  for (uint64_t m : g.members) out.add_members(m);
}

void FakeLogic::AddConvStatesLocked(uint64_t user,
                                    google::protobuf::RepeatedPtrField<rpc::ConvState>& out) const {
  for (const auto& [conv, msgs] : history_) {
    if (!CanSeeLocked(conv, user).ok()) continue;
    auto id = model::ConvId::Parse(conv);
    rpc::ConvState* c = out.Add();
    c->set_conv(conv);
    c->set_last_seq(msgs.size());
    auto read = read_seqs_.find({user, conv});
    c->set_read_seq(read == read_seqs_.end() ? 0 : read->second);
    if (id->is_group()) {
      c->set_group_id(id->group_id());
    } else {
      c->set_peer(id->PeerOf(user));
    }
    c->set_last_ts(msgs.empty() ? 0 : msgs.back().ts());
  }
}

bool FakeLogic::OnlineLocked(uint64_t user) const {
  auto it = presence_.find(user);
  return it != presence_.end() && !it->second.empty();
}

// ---- LogicService ----

void FakeLogic::Register(CallContext ctx, rpc::RegisterRequest req,
                         Callback<rpc::RegisterReply> done) {
  Handle(Method::kRegister, ctx, req, false, std::move(done), [&](const Session&) {
    rpc::RegisterReply reply;
    for (const auto& [id, user] : users_) {
      if (Lower(user.username) == Lower(req.username())) {
        Status::AlreadyExists("username taken").ToProto(reply.mutable_error());
        return reply;
      }
    }
    const uint64_t id = next_user_id_++;
    users_[id] = User{id, req.username(), req.password()};
    reply.mutable_user()->set_user_id(id);
    reply.mutable_user()->set_username(req.username());
    return reply;
  });
}

void FakeLogic::Login(CallContext ctx, rpc::LoginRequest req, Callback<rpc::LoginReply> done) {
  Handle(Method::kLogin, ctx, req, false, std::move(done), [&](const Session&) {
    rpc::LoginReply reply;
    for (const auto& [id, user] : users_) {
      if (Lower(user.username) == Lower(req.username()) && user.password == req.password()) {
        const uint64_t n = ++next_token_;
        tokens_["tok-" + std::to_string(n)] = Session{id, "key-" + std::to_string(n)};
        reply.set_token("tok-" + std::to_string(n));
        reply.set_user_id(id);
        reply.set_expires_at(clock_.NowMs() + kTokenTtlMs);
        return reply;
      }
    }
    Status::Unauthenticated("wrong username or password").ToProto(reply.mutable_error());
    return reply;
  });
}

void FakeLogic::Logout(CallContext ctx, rpc::LogoutRequest req, Callback<rpc::LogoutReply> done) {
  Handle(Method::kLogout, ctx, req, true, std::move(done), [&](const Session& caller) {
    std::erase_if(
        tokens_, [&](const auto& entry) { return entry.second.session_key == caller.session_key; });
    return rpc::LogoutReply();
  });
}

void FakeLogic::Auth(CallContext ctx, rpc::AuthRequest req, Callback<rpc::AuthReply> done) {
  Handle(Method::kAuth, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::AuthReply reply;
    reply.set_user_id(caller.user_id);
    reply.set_session_key(caller.session_key);
    reply.set_expires_at(clock_.NowMs() + kTokenTtlMs);
    return reply;
  });
}

void FakeLogic::GetUser(CallContext ctx, rpc::GetUserRequest req,
                        Callback<rpc::GetUserReply> done) {
  Handle(Method::kGetUser, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::GetUserReply reply;
    const User* found = nullptr;
    if (req.user_id() != 0 || req.username().empty()) {
      // Neither id nor name: the caller.
      auto it = users_.find(req.user_id() != 0 ? req.user_id() : caller.user_id);
      if (it != users_.end()) found = &it->second;
    } else {
      for (const auto& [id, user] : users_) {
        if (Lower(user.username) == Lower(req.username())) found = &user;
      }
    }
    if (found == nullptr) {
      Status::NotFound("no such user").ToProto(reply.mutable_error());
      return reply;
    }
    reply.mutable_user()->set_user_id(found->id);
    reply.mutable_user()->set_username(found->username);
    reply.mutable_user()->set_online(OnlineLocked(found->id));
    return reply;
  });
}

void FakeLogic::CreateGroup(CallContext ctx, rpc::CreateGroupRequest req,
                            Callback<rpc::GroupReply> done) {
  Handle(Method::kCreateGroup, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::GroupReply reply;
    const uint64_t id = next_group_id_++;
    Group& g = groups_[id];
    g.name = req.name();
    g.owner = caller.user_id;
    g.members.push_back(caller.user_id);
    for (uint64_t m : req.members()) {
      if (std::find(g.members.begin(), g.members.end(), m) == g.members.end()) {
        g.members.push_back(m);
      }
    }
    FillGroupLocked(id, *reply.mutable_group());
    return reply;
  });
}

void FakeLogic::GetGroup(CallContext ctx, rpc::GetGroupRequest req,
                         Callback<rpc::GroupReply> done) {
  Handle(Method::kGetGroup, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::GroupReply reply;
    if (Status s = CheckMemberLocked(req.group_id(), caller.user_id); !s.ok()) {
      s.ToProto(reply.mutable_error());
    } else {
      FillGroupLocked(req.group_id(), *reply.mutable_group());
    }
    return reply;
  });
}

void FakeLogic::AddMember(CallContext ctx, rpc::AddMemberRequest req,
                          Callback<rpc::MembershipReply> done) {
  Handle(Method::kAddMember, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::MembershipReply reply;
    if (Status s = CheckMemberLocked(req.group_id(), caller.user_id); !s.ok()) {
      s.ToProto(reply.mutable_error());
    } else if (!IsMemberLocked(req.group_id(), req.user_id())) {
      groups_[req.group_id()].members.push_back(req.user_id());
    }
    return reply;
  });
}

void FakeLogic::RemoveMember(CallContext ctx, rpc::RemoveMemberRequest req,
                             Callback<rpc::MembershipReply> done) {
  Handle(Method::kRemoveMember, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::MembershipReply reply;
    auto it = groups_.find(req.group_id());
    if (it == groups_.end()) {
      Status::NotFound("no such group").ToProto(reply.mutable_error());
    } else if (req.user_id() != caller.user_id && it->second.owner != caller.user_id) {
      Status::PermissionDenied("only the owner removes others").ToProto(reply.mutable_error());
    } else {
      std::erase(it->second.members, req.user_id());
      if (it->second.owner == req.user_id() && !it->second.members.empty()) {
        it->second.owner = it->second.members.front();
      }
    }
    return reply;
  });
}

void FakeLogic::Settings(CallContext ctx, rpc::SettingsRequest req,
                         Callback<rpc::SettingsReply> done) {
  Handle(Method::kSettings, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::SettingsReply reply;
    if (!req.group_adds().empty()) {
      if (req.group_adds() != "anyone" && req.group_adds() != "nobody") {
        Status::InvalidArgument("group_adds must be \"anyone\" or \"nobody\"")
            .ToProto(reply.mutable_error());
        return reply;
      }
      group_adds_[caller.user_id] = req.group_adds();
    }
    auto it = group_adds_.find(caller.user_id);
    reply.set_group_adds(it == group_adds_.end() ? "anyone" : it->second);
    return reply;
  });
}

void FakeLogic::ListConversations(CallContext ctx, rpc::ListConversationsRequest req,
                                  Callback<rpc::ListConversationsReply> done) {
  Handle(Method::kListConversations, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::ListConversationsReply reply;
    AddConvStatesLocked(caller.user_id, *reply.mutable_convs());
    return reply;
  });
}

void FakeLogic::Sync(CallContext ctx, rpc::SyncRequest req, Callback<rpc::SyncReply> done) {
  Handle(Method::kSync, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::SyncReply reply;
    if (Status s = CanSeeLocked(req.conv(), caller.user_id); !s.ok()) {
      s.ToProto(reply.mutable_error());
      return reply;
    }
    reply.set_conv(req.conv());
    const auto& msgs = history_[req.conv()];
    // Seqs are 1..size: the window is an index range.
    const uint64_t size = msgs.size();
    uint64_t first = 0, last = size;  // [first, last)
    if (req.before_seq() > 0) {
      last = std::min<uint64_t>(size, req.before_seq() - 1);
      first = last > req.limit() ? last - req.limit() : 0;
      reply.set_has_more(first > 0);
    } else if (req.has_after()) {
      first = std::min<uint64_t>(size, req.after_seq());
      last = std::min<uint64_t>(size, first + req.limit());
      reply.set_has_more(last < size);
    } else {
      first = size > req.limit() ? size - req.limit() : 0;
      reply.set_has_more(first > 0);
    }
    for (uint64_t i = first; i < last; ++i) *reply.add_messages() = msgs[i];
    return reply;
  });
}

rpc::SendReply FakeLogic::SendOneLocked(const CallContext& ctx, const Session& caller,
                                        const rpc::SendRequest& req) {
  rpc::SendReply reply;
  reply.set_client_id(req.client_id());
  auto key = std::make_pair(caller.user_id, req.client_id());
  if (auto it = acks_.find(key); it != acks_.end()) return it->second;
  if (send_budget_ == 0) {
    Status::RateLimited("too many messages").ToProto(reply.mutable_error());
    reply.mutable_error()->set_retry_after_ms(100);
    return reply;
  }
  if (req.to_group() != 0 ? !groups_.contains(req.to_group()) : !users_.contains(req.to_user())) {
    Status::NotFound("no such recipient").ToProto(reply.mutable_error());
    return reply;
  }
  if (req.to_group() != 0 && !IsMemberLocked(req.to_group(), caller.user_id)) {
    Status::PermissionDenied("not a member").ToProto(reply.mutable_error());
    return reply;
  }
  if (send_budget_ > 0) --send_budget_;
  model::ConvId conv = req.to_group() != 0 ? model::ConvId::Group(req.to_group())
                                           : model::ConvId::Private(caller.user_id, req.to_user());
  auto& msgs = history_[conv.ToString()];
  rpc::ChatMessage m;
  m.set_msg_id(++next_msg_id_ + (1ULL << 60));
  m.set_conv(conv.ToString());
  m.set_seq(msgs.size() + 1);
  m.set_from(caller.user_id);
  m.set_to_user(req.to_user());
  m.set_to_group(req.to_group());
  m.set_body(req.body());
  m.set_ts(clock_.NowMs());
  m.set_client_id(req.client_id());
  m.set_request_id(ctx.request_id);
  m.set_origin_node(ctx.origin_node);
  m.set_origin_conn(ctx.origin_conn);
  msgs.push_back(m);
  accepted_.push_back(m);
  reply.set_msg_id(m.msg_id());
  reply.set_conv(m.conv());
  reply.set_seq(m.seq());
  reply.set_ts(m.ts());
  acks_[key] = reply;
  return reply;
}

void FakeLogic::Send(CallContext ctx, rpc::SendBatch req, Callback<rpc::SendBatchReply> done) {
  Handle(Method::kSend, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::SendBatchReply reply;
    for (const rpc::SendRequest& one : req.requests()) {
      *reply.add_replies() = SendOneLocked(ctx, caller, one);
    }
    return reply;
  });
}

void FakeLogic::Read(CallContext ctx, rpc::ReadRequest req, Callback<rpc::ReadReply> done) {
  Handle(Method::kRead, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::ReadReply reply;
    if (Status s = CanSeeLocked(req.conv(), caller.user_id); !s.ok()) {
      s.ToProto(reply.mutable_error());
      return reply;
    }
    uint64_t& seq = read_seqs_[{caller.user_id, req.conv()}];
    seq = std::max(seq, req.seq());
    return reply;
  });
}

void FakeLogic::Connect(CallContext ctx, rpc::ConnectRequest req,
                        Callback<rpc::ConnectReply> done) {
  Handle(Method::kConnect, ctx, req, true, std::move(done), [&](const Session& caller) {
    rpc::ConnectReply reply;
    reply.set_user_id(caller.user_id);
    reply.set_session_key(caller.session_key);
    reply.set_expires_at(clock_.NowMs() + kTokenTtlMs);
    AddConvStatesLocked(caller.user_id, *reply.mutable_convs());
    presence_[caller.user_id].insert({req.node_id(), req.conn_id()});
    return reply;
  });
}

void FakeLogic::Disconnect(CallContext ctx, rpc::DisconnectRequest req,
                           Callback<rpc::DisconnectReply> done) {
  // Needs only ctx.user_id: the socket's session may have been revoked.
  Handle(Method::kDisconnect, ctx, req, false, std::move(done), [&](const Session&) {
    rpc::DisconnectReply reply;
    if (ctx.user_id == 0) {
      Status::Unauthenticated("missing user").ToProto(reply.mutable_error());
      return reply;
    }
    presence_[ctx.user_id].erase({req.node_id(), req.conn_id()});
    return reply;
  });
}

void FakeLogic::Ready(CallContext ctx, Callback<Status> done) {
  Status status;
  {
    std::lock_guard lock(mu_);
    calls_.push_back(Call{Method::kReady, ctx, nullptr});
    calls_changed_.notify_all();
    status = ready_;
  }
  Answer(Method::kReady, [done = std::move(done), status = std::move(status)]() mutable {
    done(std::move(status));
  });
}

}  // namespace parley::logic::testing

// Tests only: a small in-memory LogicService for exercising the connect tier
// in isolation (the real logic tier needs a store and a log). It does what
// the connect tier relies on: tokens, conversation seqs, idempotent sends,
// history, an optional send budget that answers rate_limited, and it
// answers on a thread of its own, as the real one does. Thread-safe.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "common/status.h"
#include "logic/logic_service.h"
#include "model/conversation.h"

namespace parley::connect::testing {

class FakeLogic final : public logic::LogicService {
 public:
  FakeLogic() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~FakeLogic() override {
    work_.reset();
    thread_.join();
  }

  void AddToken(const std::string& token, uint64_t user_id, const std::string& session_key) {
    std::lock_guard lock(mu_);
    tokens_[token] = {user_id, session_key};
  }
  // Sends beyond `n` (all users together) answer rate_limited.
  void SetSendBudget(int n) {
    std::lock_guard lock(mu_);
    send_budget_ = n;
  }
  std::vector<rpc::DisconnectRequest> disconnects() const {
    std::lock_guard lock(mu_);
    return disconnects_;
  }
  std::vector<rpc::ConnectRequest> connects() const {
    std::lock_guard lock(mu_);
    return connects_;
  }
  std::vector<rpc::ReadRequest> reads() const {
    std::lock_guard lock(mu_);
    return reads_;
  }
  // Every accepted message, in order of acceptance.
  std::vector<rpc::ChatMessage> accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }

  void Connect(rpc::ConnectRequest req, Callback<rpc::ConnectReply> done) override {
    rpc::ConnectReply reply;
    {
      std::lock_guard lock(mu_);
      connects_.push_back(req);
      auto it = tokens_.find(req.token());
      if (it == tokens_.end()) {
        Status::Unauthenticated("invalid or expired token").ToProto(reply.mutable_error());
      } else {
        reply.set_user_id(it->second.first);
        reply.set_session_key(it->second.second);
        for (const auto& [conv, msgs] : history_) {
          auto id = model::ConvId::Parse(conv);
          if (!id || id->is_group() || !id->HasParticipant(it->second.first)) continue;
          auto* c = reply.add_convs();
          c->set_conv(conv);
          c->set_last_seq(msgs.size());
          c->set_peer(id->PeerOf(it->second.first));
        }
      }
    }
    Answer(std::move(done), std::move(reply));
  }

  void Disconnect(rpc::DisconnectRequest req, Callback<rpc::DisconnectReply> done) override {
    {
      std::lock_guard lock(mu_);
      disconnects_.push_back(req);
    }
    Answer(std::move(done), rpc::DisconnectReply());
  }

  void Send(rpc::SendRequest req, Callback<rpc::SendReply> done) override {
    rpc::SendReply reply;
    reply.set_client_id(req.client_id());
    {
      std::lock_guard lock(mu_);
      auto key = std::make_pair(req.from(), req.client_id());
      if (auto it = acks_.find(key); it != acks_.end()) {
        reply = it->second;
      } else if (send_budget_ == 0) {
        Status::RateLimited("too many messages").ToProto(reply.mutable_error());
        reply.mutable_error()->set_retry_after_ms(100);
      } else if (req.to_user() > 1000 || req.to_group() > 1000) {
        Status::NotFound("no such recipient").ToProto(reply.mutable_error());
      } else {
        if (send_budget_ > 0) --send_budget_;
        model::ConvId conv = req.to_group() != 0
                                 ? model::ConvId::Group(req.to_group())
                                 : model::ConvId::Private(req.from(), req.to_user());
        auto& msgs = history_[conv.ToString()];
        rpc::ChatMessage m;
        m.set_msg_id(++next_msg_id_ + (1ull << 60));
        m.set_conv(conv.ToString());
        m.set_seq(msgs.size() + 1);
        m.set_from(req.from());
        m.set_to_user(req.to_user());
        m.set_to_group(req.to_group());
        m.set_body(req.body());
        m.set_ts(1'700'000'000'000 + static_cast<int64_t>(next_msg_id_));
        m.set_client_id(req.client_id());
        m.set_origin_node(req.origin_node());
        m.set_origin_conn(req.origin_conn());
        msgs.push_back(m);
        accepted_.push_back(m);
        reply.set_msg_id(m.msg_id());
        reply.set_conv(m.conv());
        reply.set_seq(m.seq());
        reply.set_ts(m.ts());
        acks_[key] = reply;
      }
    }
    Answer(std::move(done), std::move(reply));
  }

  void Sync(rpc::SyncRequest req, Callback<rpc::SyncReply> done) override {
    rpc::SyncReply reply;
    {
      std::lock_guard lock(mu_);
      auto conv = model::ConvId::Parse(req.conv());
      if (!conv || (!conv->is_group() && !conv->HasParticipant(req.user_id()))) {
        Status::PermissionDenied("not a participant").ToProto(reply.mutable_error());
      } else {
        reply.set_conv(req.conv());
        const auto& msgs = history_[req.conv()];
        for (const auto& m : msgs) {
          if (m.seq() <= req.after_seq()) continue;
          if (reply.messages_size() == static_cast<int>(req.limit())) {
            reply.set_has_more(true);
            break;
          }
          *reply.add_messages() = m;
        }
      }
    }
    Answer(std::move(done), std::move(reply));
  }

  void Read(rpc::ReadRequest req, Callback<rpc::ReadReply> done) override {
    rpc::ReadReply reply;
    {
      std::lock_guard lock(mu_);
      auto conv = model::ConvId::Parse(req.conv());
      if (!conv->is_group() && !conv->HasParticipant(req.user_id())) {
        Status::PermissionDenied("not a participant").ToProto(reply.mutable_error());
      } else {
        reads_.push_back(req);
      }
    }
    Answer(std::move(done), std::move(reply));
  }

  // Not used by the connect tier.
  void Register(rpc::RegisterRequest, Callback<rpc::RegisterReply> done) override { Unused(done); }
  void Login(rpc::LoginRequest, Callback<rpc::LoginReply> done) override { Unused(done); }
  void Logout(rpc::LogoutRequest, Callback<rpc::LogoutReply> done) override { Unused(done); }
  void Auth(rpc::AuthRequest, Callback<rpc::AuthReply> done) override { Unused(done); }
  void GetUser(rpc::GetUserRequest, Callback<rpc::GetUserReply> done) override { Unused(done); }
  void CreateGroup(rpc::CreateGroupRequest, Callback<rpc::GroupReply> done) override {
    Unused(done);
  }
  void GetGroup(rpc::GetGroupRequest, Callback<rpc::GroupReply> done) override { Unused(done); }
  void AddMember(rpc::AddMemberRequest, Callback<rpc::MembershipReply> done) override {
    Unused(done);
  }
  void RemoveMember(rpc::RemoveMemberRequest, Callback<rpc::MembershipReply> done) override {
    Unused(done);
  }
  void ListConversations(rpc::ListConversationsRequest,
                         Callback<rpc::ListConversationsReply> done) override {
    Unused(done);
  }
  void Ready(Callback<Status> done) override {
    boost::asio::post(io_, [done] { done(Status::Ok()); });
  }

 private:
  template <typename Reply>
  void Answer(Callback<Reply> done, Reply reply) {
    boost::asio::post(io_, [done = std::move(done), reply = std::move(reply)]() mutable {
      done(std::move(reply));
    });
  }
  template <typename Reply>
  void Unused(Callback<Reply>& done) {
    Reply reply;
    Status::Internal("not used by the connect tier").ToProto(reply.mutable_error());
    this->Answer(std::move(done), std::move(reply));
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;

  mutable std::mutex mu_;
  // State below is protected by mu_.
  std::map<std::string, std::pair<uint64_t, std::string>> tokens_;
  std::map<std::string, std::vector<rpc::ChatMessage>> history_;
  std::map<std::pair<uint64_t, std::string>, rpc::SendReply> acks_;
  std::vector<rpc::ChatMessage> accepted_;
  std::vector<rpc::ConnectRequest> connects_;
  std::vector<rpc::DisconnectRequest> disconnects_;
  std::vector<rpc::ReadRequest> reads_;
  uint64_t next_msg_id_ = 0;
  int send_budget_ = -1;  // unlimited
};

}  // namespace parley::connect::testing

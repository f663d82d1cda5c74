// RecordingConnectNode: a ConnectService for tests of the tiers that call
// connect nodes (task, logic). It records every Push and Kick, answers at
// once, or, while holding, keeps the Push answers until AnswerHeld().
// Thread-safe.
#pragma once

#include <mutex>
#include <vector>

#include "connect/connect_service.h"

namespace parley::connect::testing {

class RecordingConnectNode final : public ConnectService {
 public:
  void Push(rpc::PushRequest req, Callback<rpc::PushReply> done) override {
    {
      std::lock_guard lock(mu_);
      pushes_.push_back(std::move(req));
      if (holding_) {
        held_.push_back(std::move(done));
        return;
      }
    }
    done(rpc::PushReply());
  }
  void Kick(rpc::KickRequest req, Callback<rpc::KickReply> done) override {
    {
      std::lock_guard lock(mu_);
      kicks_.push_back(std::move(req));
    }
    done(rpc::KickReply());
  }

  void Hold() {
    std::lock_guard lock(mu_);
    holding_ = true;
  }
  // Answers every held Push on this thread.
  void AnswerHeld() {
    std::vector<Callback<rpc::PushReply>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& done : held) done(rpc::PushReply());
  }
  std::vector<rpc::PushRequest> pushes() const {
    std::lock_guard lock(mu_);
    return pushes_;
  }
  size_t push_count() const {
    std::lock_guard lock(mu_);
    return pushes_.size();
  }
  std::vector<rpc::KickRequest> kicks() const {
    std::lock_guard lock(mu_);
    return kicks_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<rpc::PushRequest> pushes_;
  std::vector<rpc::KickRequest> kicks_;
  bool holding_ = false;
  std::vector<Callback<rpc::PushReply>> held_;
};

}  // namespace parley::connect::testing

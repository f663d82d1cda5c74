#include "task/push_consumer.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "model/conversation.h"

namespace parley::task {

struct PushConsumer::Batch {
  std::vector<queue::LogEntry> entries;
  std::mutex mu;  // guards the two below while group lookups complete
  std::unordered_map<uint64_t, std::vector<uint64_t>> members;  // group -> members
  size_t pending = 0;
};

void PushConsumer::Start(uint32_t max_batch) {
  log_.Subscribe(kGroup, max_batch, /*from_tail=*/false,
                 [this](std::vector<queue::LogEntry> entries) { OnBatch(std::move(entries)); });
}

void PushConsumer::OnBatch(std::vector<queue::LogEntry> entries) {
  auto batch = std::make_shared<Batch>();
  batch->entries = std::move(entries);
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(batch));
    if (busy_) return;
    busy_ = true;
  }
  StartNext();
}

void PushConsumer::StartNext() {
  std::shared_ptr<Batch> batch;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      busy_ = false;
      return;
    }
    batch = std::move(queue_.front());
    queue_.pop_front();
  }
  Process(std::move(batch));
}

void PushConsumer::Process(std::shared_ptr<Batch> batch) {
  std::unordered_set<uint64_t> groups;
  for (const auto& e : batch->entries) {
    if (e.message.to_group() != 0) groups.insert(e.message.to_group());
  }
  if (groups.empty()) {
    Dispatch(*batch);
    StartNext();
    return;
  }
  batch->pending = groups.size();
  for (uint64_t gid : groups) {
    store_.GetGroup(gid, [this, batch, gid](StatusOr<rpc::Group> g) {
      bool last;
      {
        std::lock_guard lock(batch->mu);
        if (g.ok()) batch->members[gid].assign(g->members().begin(), g->members().end());
        last = --batch->pending == 0;
      }
      if (last) {
        Dispatch(*batch);
        StartNext();
      }
    });
  }
}

void PushConsumer::Dispatch(Batch& batch) {
  // node -> request, and per node the index of the current message's event.
  std::unordered_map<std::string, std::pair<rpc::PushRequest, int>> by_node;
  std::vector<uint64_t> offsets;
  offsets.reserve(batch.entries.size());
  std::vector<uint64_t> recipients;
  for (size_t i = 0; i < batch.entries.size(); ++i) {
    const rpc::ChatMessage& m = batch.entries[i].message;
    offsets.push_back(batch.entries[i].offset);
    recipients.clear();
    if (m.to_group() != 0) {
      auto it = batch.members.find(m.to_group());
      if (it != batch.members.end()) recipients = it->second;
    } else if (auto conv = model::ConvId::Parse(m.conv())) {
      recipients.push_back(conv->a);
      if (conv->b != conv->a) recipients.push_back(conv->b);
    }
    SPDLOG_DEBUG("event=push rid={} conv={} seq={} recipients={}", m.request_id(), m.conv(),
                 m.seq(), recipients.size());
    for (uint64_t user : recipients) {
      for (const std::string& node : presence_.NodesOf(user)) {
        auto& [req, event_of] = by_node[node];
        if (req.events_size() == 0 || event_of != static_cast<int>(i)) {
          *req.add_events()->mutable_msg() = m;
          event_of = static_cast<int>(i);
        }
        req.mutable_events(req.events_size() - 1)->add_user_ids(user);
      }
    }
  }
  if (by_node.empty()) {
    log_.Ack(kGroup, offsets);
    metrics_.log_lag_push.Set(static_cast<int64_t>(log_.Lag(kGroup)));
    return;
  }
  // Ack once every node has answered.
  auto remaining = std::make_shared<std::atomic<size_t>>(by_node.size());
  auto shared_offsets = std::make_shared<std::vector<uint64_t>>(std::move(offsets));
  auto finish = [this, remaining, shared_offsets](rpc::PushReply) {
    if (remaining->fetch_sub(1) == 1) {
      log_.Ack(kGroup, *shared_offsets);
      metrics_.log_lag_push.Set(static_cast<int64_t>(log_.Lag(kGroup)));
    }
  };
  for (auto& [node, req_and_index] : by_node) {
    connect::ConnectService* target = connects_.Find(node);
    if (target == nullptr) {
      // The node is gone; its clients reconnect elsewhere and sync.
      spdlog::warn("event=push_node_unknown node={}", node);
      finish(rpc::PushReply());
      continue;
    }
    target->Push(std::move(req_and_index.first), finish);
  }
}

}  // namespace parley::task

#include "task/push_consumer.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "model/conversation.h"

namespace parley::task {

struct PushConsumer::Batch {
  std::vector<queue::LogEntry> entries;
  int failures = 0;  // of the step being retried; sets the backoff
  // When a Lookup first named a node epoch the directory had not seen.
  std::optional<std::chrono::steady_clock::time_point> unseen_since;

  std::mutex mu;  // guards the three below while group lookups complete
  std::unordered_map<uint64_t, std::vector<uint64_t>> members;  // group -> members
  size_t groups_pending = 0;
  Status group_error;
};

// The batch's recipients, as slots of the Lookup request: users[s] is slot
// s. A group's members get their slots once however many of its messages the
// batch holds.
struct PushConsumer::Plan {
  std::vector<uint64_t> users;  // distinct; moved into the Lookup
  std::vector<uint32_t> slots;  // recipients of one entry or group, back to back
  struct Range {
    uint32_t begin = 0, end = 0;
  };
  std::vector<Range> recipients;  // per entry: its range of `slots`

  explicit Plan(const Batch& batch) {
    std::unordered_map<uint64_t, uint32_t> slot_of;
    std::unordered_map<uint64_t, Range> group_range;
    auto add = [&](uint64_t user) {
      auto [it, fresh] = slot_of.try_emplace(user, static_cast<uint32_t>(users.size()));
      if (fresh) users.push_back(user);
      slots.push_back(it->second);
    };
    auto mark = [&] { return static_cast<uint32_t>(slots.size()); };
    recipients.reserve(batch.entries.size());
    for (const queue::LogEntry& e : batch.entries) {
      const rpc::ChatMessage& m = e.message;
      if (m.to_group() != 0) {
        auto [it, fresh] = group_range.try_emplace(m.to_group());
        if (fresh) {
          it->second.begin = mark();
          if (auto g = batch.members.find(m.to_group()); g != batch.members.end()) {
            for (uint64_t member : g->second) add(member);
          }
          it->second.end = mark();
        }
        recipients.push_back(it->second);
      } else if (auto conv = model::ConvId::Parse(m.conv())) {
        Range r{.begin = mark()};
        add(conv->a);
        if (conv->b != conv->a) add(conv->b);
        r.end = mark();
        recipients.push_back(r);
      } else {
        recipients.push_back({});
      }
    }
  }
};

namespace {

// A node incarnation, naming strings held by the Lookup reply.
struct NodeKey {
  std::string_view node;
  uint64_t epoch;
  bool operator==(const NodeKey&) const = default;
};
struct NodeKeyHash {
  size_t operator()(const NodeKey& k) const {
    return std::hash<std::string_view>()(k.node) ^ (k.epoch * 0x9e3779b97f4a7c15ULL);
  }
};

// One Push being built for a node incarnation.
struct NodePush {
  explicit NodePush(NodeKey k) : key(k) {}
  NodeKey key;
  rpc::PushRequest req;
  size_t entry = SIZE_MAX;  // the entry of req's last event
};

// Acks a batch once the last of its nodes answered.
struct PendingAck {
  std::vector<uint64_t> offsets;
  std::atomic<size_t> nodes;
};

}  // namespace

PushConsumer::PushConsumer(queue::MessageLog& log, state::GroupDirectory& groups,
                           presence::Presence& presence, connect::ConnectDirectory& connects,
                           Metrics& metrics, boost::asio::any_io_executor executor, Options options)
    : log_(log),
      groups_(groups),
      presence_(presence),
      connects_(connects),
      metrics_(metrics),
      options_(options),
      retry_timer_(std::move(executor)) {}

void PushConsumer::Start() {
  log_.Subscribe(kGroup, options_.max_batch, /*from_tail=*/false,
                 [this](std::vector<queue::LogEntry> entries) { OnBatch(std::move(entries)); });
}

void PushConsumer::OnBatch(std::vector<queue::LogEntry> entries) {
  {
    std::lock_guard lock(mu_);
    // This consumer acks every entry it takes in, or keeps retrying it: an
    // entry delivered again is already being pushed.
    // Offsets identify entries but need not increase across the log (the
    // cluster's log orders them only within a partition): what is in hand is
    // a set, not a watermark.
    std::erase_if(entries,
                  [&](const queue::LogEntry& e) { return !in_hand_.insert(e.offset).second; });
    if (entries.empty()) return;
    auto batch = std::make_shared<Batch>();
    batch->entries = std::move(entries);
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
    // Batches that queued up behind a slow one (a store or Redis that was
    // away) go on together: one round of group lookups and one Lookup for
    // all of them, not one each, so a backlog drains in a few round trips.
    // Entries stay in log order, and max_batch still bounds the Lookup.
    while (!queue_.empty() &&
           batch->entries.size() + queue_.front()->entries.size() <= options_.max_batch) {
      std::vector<queue::LogEntry>& next = queue_.front()->entries;
      batch->entries.insert(batch->entries.end(), std::make_move_iterator(next.begin()),
                            std::make_move_iterator(next.end()));
      queue_.pop_front();
    }
  }
  FetchGroups(std::move(batch));
}

void PushConsumer::FetchGroups(std::shared_ptr<Batch> batch) {
  std::vector<uint64_t> groups;
  {
    std::lock_guard lock(batch->mu);
    for (const queue::LogEntry& e : batch->entries) {
      uint64_t gid = e.message.to_group();
      if (gid != 0 && !batch->members.contains(gid) &&
          std::find(groups.begin(), groups.end(), gid) == groups.end()) {
        groups.push_back(gid);
      }
    }
    batch->groups_pending = groups.size();
    batch->group_error = Status::Ok();
  }
  if (groups.empty()) return LookUp(std::move(batch));
  for (uint64_t gid : groups) {
    groups_.Get(gid, [this, batch, gid](StatusOr<state::GroupPtr> g) {
      if (!g.ok() && !g.status().IsNotFound()) {
        spdlog::warn("event=push_group_failed group={} error=\"{}\"", gid, g.status().message());
      }
      Status error;
      {
        std::lock_guard lock(batch->mu);
        if (g.ok()) {
          batch->members[gid].assign((*g)->members().begin(), (*g)->members().end());
        } else if (g.status().IsNotFound()) {
          batch->members[gid];  // no such group: no recipients
        } else {
          batch->group_error = g.status();
        }
        if (--batch->groups_pending > 0) return;
        error = batch->group_error;
      }
      if (!error.ok()) return RetryLater(batch, &PushConsumer::FetchGroups);
      batch->failures = 0;
      LookUp(batch);
    });
  }
}

void PushConsumer::LookUp(std::shared_ptr<Batch> batch) {
  auto plan = std::make_shared<Plan>(*batch);
  if (plan->users.empty()) {
    std::vector<uint64_t> offsets;
    for (const queue::LogEntry& e : batch->entries) offsets.push_back(e.offset);
    Ack(offsets);
    return StartNext();
  }
  std::vector<uint64_t> users = std::move(plan->users);
  size_t asked = users.size();
  presence_.Lookup(
      std::move(users),
      [this, batch, plan, asked](StatusOr<std::vector<std::vector<presence::Connection>>> conns) {
        if (conns.ok() && conns->size() != asked) {
          // Dispatch indexes the reply by the request's slots.
          conns = Status::Internal("presence answered " + std::to_string(conns->size()) +
                                   " users of " + std::to_string(asked));
        }
        if (!conns.ok()) {
          spdlog::warn("event=push_lookup_failed entries={} error=\"{}\"", batch->entries.size(),
                       conns.status().message());
          return RetryLater(batch, &PushConsumer::LookUp);
        }
        if (AwaitsUnseenNode(*batch, *conns)) return RetryLater(batch, &PushConsumer::LookUp);
        Dispatch(*batch, *plan, *conns);
        StartNext();
      });
}

void PushConsumer::RetryLater(std::shared_ptr<Batch> batch,
                              void (PushConsumer::*step)(std::shared_ptr<Batch>)) {
  int doublings = std::min(batch->failures++, 20);
  auto delay = std::min(options_.retry_initial * (int64_t{1} << doublings), options_.retry_max);
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this, batch, step](boost::system::error_code ec) {
    if (!ec) (this->*step)(batch);
  });
}

bool PushConsumer::AwaitsUnseenNode(Batch& batch,
                                    const std::vector<std::vector<presence::Connection>>& conns) {
  const presence::Connection* unseen = nullptr;
  for (const auto& user_conns : conns) {
    for (const presence::Connection& c : user_conns) {
      if (connects_.NotYetSeen(c.node_epoch) && !connects_.Find(c.node_id, c.node_epoch)) {
        unseen = &c;
        break;
      }
    }
    if (unseen != nullptr) break;
  }
  if (unseen == nullptr) return false;
  auto now = std::chrono::steady_clock::now();
  if (!batch.unseen_since) {
    batch.unseen_since = now;
    spdlog::info("event=push_awaits_node node={}@{} entries={}", unseen->node_id,
                 unseen->node_epoch, batch.entries.size());
  }
  return now - *batch.unseen_since < options_.unknown_node_grace;
}

void PushConsumer::Dispatch(const Batch& batch, const Plan& plan,
                            const std::vector<std::vector<presence::Connection>>& conns) {
  // Each connection's node push, found once per connection rather than once
  // per message: conn_push[first_conn[s] + k] is that of conns[s][k].
  std::vector<NodePush> pushes;
  std::unordered_map<NodeKey, uint32_t, NodeKeyHash> push_of;
  std::vector<uint32_t> first_conn(conns.size() + 1);
  std::vector<uint32_t> conn_push;
  for (size_t s = 0; s < conns.size(); ++s) {
    first_conn[s] = static_cast<uint32_t>(conn_push.size());
    for (const presence::Connection& c : conns[s]) {
      auto [it, fresh] = push_of.try_emplace(NodeKey{c.node_id, c.node_epoch},
                                             static_cast<uint32_t>(pushes.size()));
      if (fresh) pushes.emplace_back(it->first);
      conn_push.push_back(it->second);
    }
  }
  first_conn[conns.size()] = static_cast<uint32_t>(conn_push.size());

  for (size_t i = 0; i < batch.entries.size(); ++i) {
    const rpc::ChatMessage& m = batch.entries[i].message;
    const Plan::Range r = plan.recipients[i];
    SPDLOG_DEBUG("event=push rid={} conv={} seq={} recipients={}", m.request_id(), m.conv(),
                 m.seq(), r.end - r.begin);
    for (uint32_t k = r.begin; k < r.end; ++k) {
      uint32_t s = plan.slots[k];
      for (uint32_t c = first_conn[s]; c < first_conn[s + 1]; ++c) {
        NodePush& p = pushes[conn_push[c]];
        if (p.entry != i) {
          *p.req.add_events()->mutable_msg() = m;
          p.entry = i;
        }
        // A user with several connections on the node is named once.
        rpc::PushEvent& ev = *p.req.mutable_events(p.req.events_size() - 1);
        uint64_t user = conns[s][c - first_conn[s]].user_id;
        if (ev.user_ids_size() == 0 || ev.user_ids(ev.user_ids_size() - 1) != user) {
          ev.add_user_ids(user);
        }
      }
    }
  }

  auto pending = std::make_shared<PendingAck>();
  pending->offsets.reserve(batch.entries.size());
  for (const queue::LogEntry& e : batch.entries) pending->offsets.push_back(e.offset);
  if (pushes.empty()) return Ack(pending->offsets);
  pending->nodes = pushes.size();
  auto answered = [this, pending](rpc::PushReply) {
    if (pending->nodes.fetch_sub(1) == 1) Ack(pending->offsets);
  };
  std::string gone;  // node@epoch,...: logged once for the batch
  for (NodePush& p : pushes) {
    std::string node(p.key.node);
    if (std::shared_ptr<connect::ConnectService> target = connects_.Find(node, p.key.epoch)) {
      target->Push(std::move(p.req), answered);
      continue;
    }
    metrics_.pushes_node_gone.Inc();
    if (!gone.empty()) gone += ',';
    gone += node + '@' + std::to_string(p.key.epoch);
    presence_.RemoveNode(node, p.key.epoch, [node, epoch = p.key.epoch](Status s) {
      if (!s.ok()) {
        spdlog::error("event=presence_remove_node_failed node={}@{} error=\"{}\"", node, epoch,
                      s.message());
      }
    });
    answered({});
  }
  if (!gone.empty()) {
    // Their clients reconnect to a live node and sync what they missed.
    spdlog::warn("event=push_node_gone nodes={} entries={}", gone, batch.entries.size());
  }
}

void PushConsumer::Ack(const std::vector<uint64_t>& offsets) {
  log_.Ack(kGroup, offsets);
  {
    std::lock_guard lock(mu_);
    for (uint64_t o : offsets) in_hand_.erase(o);
  }
  metrics_.log_lag_push.Set(static_cast<int64_t>(log_.Lag(kGroup)));
}

}  // namespace parley::task

#include "queue/redis/redis_message_log.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "common/thread_name.h"
#include "parley/logic.pb.h"
#include "queue/redis/log_scripts.h"
#include "queue/redis/stream_offset.h"
#include "redis/partition.h"

namespace parley::queue {

using redis::Reply;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxIdsPerXack = 1000;
constexpr auto kRetryDelay = std::chrono::milliseconds(100);

// Counts down the replies of commands issued together; `then` runs after the
// last. On the client's strand (one thread), so no lock.
template <typename T>
struct Join {
  size_t remaining = 0;
  std::vector<T> results;
  std::function<void(std::vector<T>&)> then;
  void Done(size_t i, T value) {
    results[i] = std::move(value);
    if (--remaining == 0) then(results);
  }
};

template <typename T>
std::shared_ptr<Join<T>> MakeJoin(size_t n, std::function<void(std::vector<T>&)> then) {
  auto join = std::make_shared<Join<T>>();
  join->remaining = n;
  join->results.resize(n);
  join->then = std::move(then);
  return join;
}

// "parley:{p<k>}:log" -> k.
std::optional<uint32_t> PartitionOfKey(std::string_view key) {
  size_t open = key.find("{p");
  size_t close = key.find('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open + 2) {
    return std::nullopt;
  }
  uint32_t p = 0;
  for (char c : key.substr(open + 2, close - open - 2)) {
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + static_cast<uint32_t>(c - '0');
    if (p >= redis::kMaxPartitions) return std::nullopt;
  }
  return p;
}

Status ReplyStatus(const StatusOr<Reply>& r) {
  if (!r.ok()) return r.status();
  if (r->is_error()) return Status::Unavailable("redis: " + r->str);
  return Status::Ok();
}

const std::string* EntryPayload(const Reply& fields) {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str == "m") return &fields.elements[i + 1].str;
  }
  return nullptr;
}

}  // namespace

struct RedisMessageLog::PartitionSnapshot {
  uint64_t length = 0;                                  // XLEN
  std::map<std::string, uint64_t, std::less<>> groups;  // undelivered + pending
};

struct RedisMessageLog::GroupState {
  bool subscribed = false;
  std::unordered_set<uint64_t> delivered;  // delivered here, not acked yet
  uint64_t acks_unconfirmed = 0;           // counted acks whose XACK has not answered
  uint64_t acked_since_snapshot = 0;       // counted acks answered after the snapshot
};

// One Subscribe: a loop of one Redis call at a time on its own (blocking)
// connection, on the log's thread. Per owned partition: create the group,
// take over others' pending entries, deliver our own pending ones (history),
// then new ones (live); redeliveries are claimed when due.
class RedisMessageLog::Reader : public std::enable_shared_from_this<Reader> {
 public:
  Reader(RedisMessageLog* log, std::string group, uint32_t max_batch, bool from_tail,
         std::function<void(std::vector<LogEntry>)> handler)
      : log_(log),
        opt_(log->options_),
        group_(std::move(group)),
        max_batch_(max_batch),
        from_tail_(from_tail),
        handler_(std::move(handler)),
        client_(redis::RedisClient::Create(log->io_.get_executor(), log->options_.redis)),
        timer_(log->io_),
        redelivery_interval_(std::max<uint32_t>(10, opt_.redelivery_ms / 4)),
        next_redelivery_(SteadyClock::now() + redelivery_interval_) {}

  const std::string& group() const { return group_; }

  void Start(const std::vector<uint32_t>& partitions, bool groups_exist) {
    for (uint32_t p : partitions) parts_[p].phase = groups_exist ? Phase::kClaim : Phase::kCreate;
    Next();
  }

  void SetPartitions(const std::vector<bool>& owned) {
    for (auto it = parts_.begin(); it != parts_.end();) {
      it = owned[it->first] ? std::next(it) : parts_.erase(it);
    }
    for (uint32_t p = 0; p < owned.size(); ++p) {
      if (owned[p] && !parts_.contains(p)) parts_[p].phase = Phase::kCreate;
    }
    if (waiting_) timer_.cancel();  // step now
  }

  void Stop() {
    stopped_ = true;
    timer_.cancel();
    client_->Close();
  }

 private:
  enum class Phase { kCreate, kClaim, kHistory, kLive };
  struct Cursor {
    Phase phase = Phase::kCreate;
    std::string claim_from = "0-0";
    std::string history_from = "0-0";
    std::string redeliver_from = "0-0";
  };

  std::vector<uint32_t> PartsIn(Phase phase) const {
    std::vector<uint32_t> v;
    for (const auto& [p, c] : parts_) {
      if (c.phase == phase) v.push_back(p);
    }
    return v;
  }

  // One step; each step's callback calls Next() again.
  void Next() {
    if (stopped_) return;
    if (auto create = PartsIn(Phase::kCreate); !create.empty()) return CreateGroups(create);
    if (auto claim = PartsIn(Phase::kClaim); !claim.empty()) return TakeOver(claim.front());
    if (auto history = PartsIn(Phase::kHistory); !history.empty()) return ReadHistory(history);
    auto live = PartsIn(Phase::kLive);
    if (live.empty()) return Wait(std::chrono::milliseconds(opt_.block_ms));
    if (SteadyClock::now() >= next_redelivery_) return Redeliver(live);
    uint64_t unacked = 0;
    {
      std::lock_guard lock(log_->mu_);
      unacked = log_->groups_.at(group_)->delivered.size();
    }
    if (unacked >= opt_.unacked_max) return Wait(std::min(UntilRedelivery(), kRetryDelay));
    ReadLive(live);
  }

  // A failed call: retried shortly. NOGROUP means the group is gone from
  // Redis (it lost its data, or an operator destroyed it): make it again.
  void Failed(const StatusOr<Reply>& r) {
    Status s = ReplyStatus(r);
    spdlog::warn("event=log_read_failed group={} error=\"{}\"", group_, s.message());
    if (r.ok() && r->is_error() && r->str.starts_with("NOGROUP")) {
      for (auto& [p, cursor] : parts_) cursor = Cursor{};
      // Offsets of the lost group's entries may come back on new entries.
      std::lock_guard lock(log_->mu_);
      log_->groups_.at(group_)->delivered.clear();
    } else if (!r.ok()) {
      ReadOwnPendingAgain();
    }
    Wait(kRetryDelay);
  }

  // The connection failed with a read or claim in flight. Redis may have
  // recorded entries as ours (with AOF, durably) and lost the reply: without
  // this they would wait redelivery_ms (30 s by default) to come back, which
  // is what made a Redis restart look like a 30 s outage. The history read
  // delivers our pending entries again, less those the handler still has.
  void ReadOwnPendingAgain() {
    for (auto& [p, cursor] : parts_) {
      if (cursor.phase != Phase::kLive) continue;
      cursor.phase = Phase::kHistory;
      cursor.history_from = "0-0";
    }
  }

  std::chrono::milliseconds UntilRedelivery() const {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(next_redelivery_ -
                                                                   SteadyClock::now());
    return std::clamp(d, std::chrono::milliseconds(1), std::chrono::milliseconds(opt_.block_ms));
  }

  void Wait(std::chrono::milliseconds d) {
    waiting_ = true;
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
      self->waiting_ = false;
      self->Next();
    });
  }

  void CreateGroups(std::vector<uint32_t> parts) {
    log_->EnsureGroups(group_, from_tail_, parts, [self = shared_from_this(), parts](bool ok) {
      if (self->stopped_) return;
      if (!ok) return self->Wait(kRetryDelay);
      for (uint32_t p : parts) {
        auto it = self->parts_.find(p);
        if (it != self->parts_.end() && it->second.phase == Phase::kCreate) {
          it->second.phase = Phase::kClaim;
        }
      }
      self->Next();
    });
  }

  // XAUTOCLAIM JUSTID: the entries become ours; ReadHistory delivers them.
  void TakeOver(uint32_t p) {
    client_->Command({"XAUTOCLAIM", redis::LogKey(p), group_, opt_.consumer,
                      std::to_string(opt_.takeover_idle_ms), parts_[p].claim_from, "COUNT",
                      std::to_string(opt_.claim_batch_max), "JUSTID"},
                     [self = shared_from_this(), p](StatusOr<Reply> r) {
                       if (self->stopped_) return;
                       if (!ReplyStatus(r).ok() || r->elements.empty()) return self->Failed(r);
                       auto it = self->parts_.find(p);
                       if (it != self->parts_.end() && it->second.phase == Phase::kClaim) {
                         const std::string& cursor = r->elements[0].str;
                         if (cursor == "0-0") {
                           it->second.phase = Phase::kHistory;
                         } else {
                           it->second.claim_from = cursor;
                         }
                       }
                       self->Next();
                     });
  }

  std::vector<std::string> ReadCommand(const std::vector<uint32_t>& parts, bool live) {
    std::vector<std::string> cmd = {"XREADGROUP",  "GROUP", group_,
                                    opt_.consumer, "COUNT", std::to_string(max_batch_)};
    if (live) {
      cmd.push_back("BLOCK");
      cmd.push_back(std::to_string(UntilRedelivery().count()));
    }
    cmd.push_back("STREAMS");
    for (uint32_t p : parts) cmd.push_back(redis::LogKey(p));
    for (uint32_t p : parts) cmd.push_back(live ? ">" : parts_[p].history_from);
    return cmd;
  }

  void ReadHistory(std::vector<uint32_t> parts) {
    client_->Command(ReadCommand(parts, false),
                     [self = shared_from_this(), parts](StatusOr<Reply> r) {
                       if (self->stopped_) return;
                       if (!ReplyStatus(r).ok()) return self->Failed(r);
                       // A stream with no pending entry of ours left is done with history.
                       std::set<uint32_t> done(parts.begin(), parts.end());
                       std::vector<std::pair<uint32_t, Reply*>> batches;
                       for (Reply& stream : r->elements) {
                         if (stream.elements.size() != 2) continue;
                         auto p = PartitionOfKey(stream.elements[0].str);
                         if (!p) continue;
                         auto it = self->parts_.find(*p);
                         if (it == self->parts_.end() || it->second.phase != Phase::kHistory)
                           continue;
                         Reply& entries = stream.elements[1];
                         if (entries.elements.empty()) continue;
                         done.erase(*p);
                         it->second.history_from = entries.elements.back().elements.at(0).str;
                         batches.emplace_back(*p, &entries);
                       }
                       for (uint32_t p : done) {
                         auto it = self->parts_.find(p);
                         if (it != self->parts_.end() && it->second.phase == Phase::kHistory) {
                           it->second.phase = Phase::kLive;
                         }
                       }
                       self->Deliver(batches, /*skip_in_hand=*/true);
                       self->Next();
                     });
  }

  void ReadLive(std::vector<uint32_t> parts) {
    client_->Command(ReadCommand(parts, true), [self = shared_from_this()](StatusOr<Reply> r) {
      if (self->stopped_) return;
      if (!ReplyStatus(r).ok()) return self->Failed(r);
      std::vector<std::pair<uint32_t, Reply*>> batches;
      for (Reply& stream : r->elements) {  // nil (no elements) after BLOCK timed out
        if (stream.elements.size() != 2) continue;
        auto p = PartitionOfKey(stream.elements[0].str);
        if (!p) continue;
        // Lost while the read was out: the entries are this consumer's
        // now, and the next owner claims only entries idle when it took the
        // partition over, so they are delivered here (a push of the old
        // owner may then interleave with the new owner's for a moment;
        // clients order by seq). Lost and gained again: the history read
        // delivers them.
        auto it = self->parts_.find(*p);
        if (it != self->parts_.end() && it->second.phase != Phase::kLive) continue;
        batches.emplace_back(*p, &stream.elements[1]);
      }
      self->Deliver(batches);
      self->Next();
    });
  }

  // XAUTOCLAIM of entries idle for the redelivery timeout, every live
  // partition in one round trip.
  void Redeliver(std::vector<uint32_t> parts) {
    std::vector<std::vector<std::string>> cmds;
    for (uint32_t p : parts) {
      cmds.push_back({"XAUTOCLAIM", redis::LogKey(p), group_, opt_.consumer,
                      std::to_string(opt_.redelivery_ms), parts_[p].redeliver_from, "COUNT",
                      std::to_string(max_batch_)});
    }
    client_->Pipeline(
        std::move(cmds), [self = shared_from_this(), parts](StatusOr<std::vector<Reply>> r) {
          if (self->stopped_) return;
          if (!r.ok()) {
            self->ReadOwnPendingAgain();
            return self->Wait(kRetryDelay);
          }
          bool finished = true;
          std::vector<std::pair<uint32_t, Reply*>> batches;
          for (size_t i = 0; i < parts.size(); ++i) {
            Reply& reply = (*r)[i];
            auto it = self->parts_.find(parts[i]);
            if (reply.is_error() && reply.str.starts_with("NOGROUP") && it != self->parts_.end()) {
              it->second = Cursor{};  // the group is gone: make it again
            }
            if (reply.is_error() || reply.elements.size() < 2 || it == self->parts_.end() ||
                it->second.phase != Phase::kLive) {
              continue;
            }
            it->second.redeliver_from = reply.elements[0].str;
            if (reply.elements[0].str != "0-0") finished = false;
            if (!reply.elements[1].elements.empty())
              batches.emplace_back(parts[i], &reply.elements[1]);
          }
          if (finished) self->next_redelivery_ = SteadyClock::now() + self->redelivery_interval_;
          self->Deliver(batches);
          self->Next();
        });
  }

  // Hands `batches` (per partition, in stream order) to the handler, at most
  // max_batch entries per call; with skip_in_hand, not those delivered and
  // not acked yet (the handler has them: its ack is coming).
  void Deliver(const std::vector<std::pair<uint32_t, Reply*>>& batches, bool skip_in_hand = false) {
    std::vector<LogEntry> entries;
    for (const auto& [p, list] : batches) {
      for (Reply& e : list->elements) {
        if (e.elements.size() != 2) continue;
        const std::string& id = e.elements[0].str;
        auto number = ParseEntryId(id);
        auto offset = number ? EncodeOffset({p, *number}) : std::nullopt;
        const std::string* payload = EntryPayload(e.elements[1]);
        LogEntry entry;
        if (!offset || payload == nullptr || !entry.message.ParseFromString(*payload)) {
          // Not ours or unreadable: it would come back forever.
          spdlog::error("event=log_entry_dropped group={} partition={} id={}", group_, p, id);
          log_->client_->Command({"XACK", redis::LogKey(p), group_, id}, [](StatusOr<Reply>) {});
          continue;
        }
        entry.offset = *offset;
        entries.push_back(std::move(entry));
      }
    }
    {
      std::lock_guard lock(log_->mu_);
      auto& delivered = log_->groups_.at(group_)->delivered;
      if (skip_in_hand) {
        std::erase_if(entries, [&](const LogEntry& e) { return delivered.contains(e.offset); });
      }
      for (const auto& e : entries) delivered.insert(e.offset);
    }
    if (entries.empty()) return;
    for (size_t i = 0; i < entries.size() && !stopped_; i += max_batch_) {
      size_t end = std::min(entries.size(), i + max_batch_);
      std::vector<LogEntry> chunk(std::make_move_iterator(entries.begin() + i),
                                  std::make_move_iterator(entries.begin() + end));
      handler_(std::move(chunk));
    }
  }

  RedisMessageLog* const log_;  // outlives the reader's callbacks (Close joins)
  const RedisMessageLogOptions& opt_;
  const std::string group_;
  const uint32_t max_batch_;
  const bool from_tail_;
  const std::function<void(std::vector<LogEntry>)> handler_;
  std::shared_ptr<redis::RedisClient> client_;  // blocking reads: this reader's own
  boost::asio::steady_timer timer_;
  const std::chrono::milliseconds redelivery_interval_;
  SteadyClock::time_point next_redelivery_;
  std::map<uint32_t, Cursor> parts_;  // the owned partitions
  bool waiting_ = false;
  bool stopped_ = false;
};

StatusOr<std::unique_ptr<RedisMessageLog>> RedisMessageLog::Open(RedisMessageLogOptions options) {
  auto bad = [](std::string what) { return Status::InvalidArgument("redis message log: " + what); };
  if (options.partitions == 0 || options.partitions > redis::kMaxPartitions) {
    return bad(fmt::format("partitions must be 1..{}", redis::kMaxPartitions));
  }
  if (options.consumer.empty() || options.consumer.size() > 256) {
    return bad("consumer must be 1..256 characters");
  }
  if (options.block_ms == 0 || options.block_ms >= options.redis.command_timeout_ms) {
    return bad("block_ms must be at least 1 and below redis.command_timeout_ms");
  }
  if (options.redelivery_ms == 0 || options.idempotency_ttl_ms <= 0 ||
      options.trim_interval_ms < 10 || options.lag_refresh_ms < 10 ||
      options.append_batch_max == 0 || options.unacked_max == 0 || options.claim_batch_max == 0 ||
      options.claim_batch_max > 100'000) {
    return bad("a limit is out of range");
  }
  return std::unique_ptr<RedisMessageLog>(new RedisMessageLog(std::move(options)));
}

RedisMessageLog::RedisMessageLog(RedisMessageLogOptions options)
    : options_(std::move(options)),
      work_(io_.get_executor()),
      client_(redis::RedisClient::Create(io_.get_executor(), options_.redis)),
      lag_timer_(io_),
      trim_timer_(io_),
      owned_(options_.partitions, true),
      snapshot_(options_.partitions) {
  thread_ = std::thread([this] {
    NameThisThread("redis-log");
    io_.run();
  });
  boost::asio::post(io_, [this] {
    RefreshLag(nullptr);
    ScheduleLagRefresh();
    ScheduleTrim();
  });
}

RedisMessageLog::~RedisMessageLog() { Close(); }

void RedisMessageLog::Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) {
  if (batch.size() > options_.append_batch_max) {
    done(Status::InvalidArgument(
        fmt::format("log batch of {} exceeds {}", batch.size(), options_.append_batch_max)));
    return;
  }
  {
    std::lock_guard lock(appends_mu_);
    if (closing_) {
      done(Status::Unavailable("message log closed"));
      return;
    }
    ++appends_in_flight_;
  }
  auto finish = [this, done = std::move(done)](Status s) {
    done(std::move(s));
    std::lock_guard lock(appends_mu_);
    if (--appends_in_flight_ == 0) appends_cv_.notify_all();
  };
  boost::asio::post(
      io_,
      [this, batch = std::make_shared<std::vector<rpc::ChatMessage>>(std::move(batch)),
       finish = std::move(finish)]() mutable { IssueAppend(std::move(batch), std::move(finish)); });
}

void RedisMessageLog::IssueAppend(std::shared_ptr<std::vector<rpc::ChatMessage>> batch,
                                  Callback<Status> done) {
  if (batch->empty()) return done(Status::Ok());
  struct Script {
    std::vector<std::string> keys, args;
    uint64_t count = 0;
  };
  std::map<uint32_t, Script> by_partition;
  const std::string fence = options_.seq_fence ? "1" : "0";
  const std::string ttl = std::to_string(options_.idempotency_ttl_ms);
  for (auto& m : *batch) {
    const uint32_t p = redis::PartitionOf(m.conv(), options_.partitions);
    Script& s = by_partition[p];
    if (s.keys.empty()) {
      s.keys.push_back(redis::LogKey(p));
      s.args.push_back(fence);
      s.args.push_back(ttl);
    }
    s.keys.push_back(redis::SeqKey(p, m.conv()));
    s.args.push_back(std::to_string(m.seq()));
    s.args.push_back(m.SerializeAsString());
    if (m.from() != 0 && !m.client_id().empty()) {
      s.keys.push_back(redis::SentKey(m.from(), m.client_id()));
      rpc::SendReply ack;
      ack.set_client_id(m.client_id());
      ack.set_msg_id(m.msg_id());
      ack.set_conv(m.conv());
      ack.set_seq(m.seq());
      ack.set_ts(m.ts());
      s.args.push_back("A" + ack.SerializeAsString());
    } else {
      s.keys.emplace_back();
      s.args.emplace_back();
    }
    ++s.count;
  }
  struct Outcome {
    uint32_t partition = 0;
    uint64_t count = 0;
    Status status;
  };
  auto join = MakeJoin<Outcome>(by_partition.size(),
                                [this, done = std::move(done)](std::vector<Outcome>& outcomes) {
                                  Status first;
                                  uint64_t owned = 0;
                                  {
                                    std::lock_guard lock(mu_);
                                    for (const auto& o : outcomes) {
                                      if (o.status.ok()) {
                                        if (owned_[o.partition]) owned += o.count;
                                      } else if (first.ok()) {
                                        first = o.status;
                                      }
                                    }
                                    appended_since_snapshot_ += owned;
                                  }
                                  done(std::move(first));
                                });
  size_t i = 0;
  for (auto& [p, s] : by_partition) {
    client_->Eval(log_scripts::Append(), std::move(s.keys), std::move(s.args),
                  [join, i, p = p, count = s.count](StatusOr<Reply> r) {
                    Outcome o{p, count, Status::Ok()};
                    if (!r.ok()) {
                      o.status = r.status();
                    } else if (r->is_error()) {
                      std::string_view what = "redis";
                      if (r->str.starts_with(log_scripts::kSeqFenceError)) {
                        what = kSeqFenceMessage;
                      } else if (r->str.starts_with(log_scripts::kAcceptedFenceError)) {
                        what = kAcceptedFenceMessage;
                      }
                      o.status = Status::Unavailable(fmt::format("{}: {}", what, r->str));
                    }
                    join->Done(i, std::move(o));
                  });
    ++i;
  }
}

void RedisMessageLog::Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                                std::function<void(std::vector<LogEntry>)> handler) {
  if (group.empty() || !handler || closing_) return;
  max_batch = std::max<uint32_t>(max_batch, 1);
  {
    std::lock_guard lock(mu_);
    auto& gs = groups_[group];
    if (!gs) gs = std::make_unique<GroupState>();
    if (gs->subscribed) {
      spdlog::error("event=log_subscribe_twice group={}", group);
      return;
    }
    gs->subscribed = true;
  }
  auto ready = std::make_shared<std::promise<void>>();
  auto reader = std::make_shared<Reader>(this, group, max_batch, from_tail, std::move(handler));
  boost::asio::post(io_, [this, reader, from_tail, ready] {
    std::vector<uint32_t> owned;
    {
      std::lock_guard lock(mu_);
      for (uint32_t p = 0; p < owned_.size(); ++p) {
        if (owned_[p]) owned.push_back(p);
      }
    }
    readers_.push_back(reader);
    // The group exists (and the lag snapshot knows it) before Subscribe
    // returns, so that a group starting at the tail starts where it was
    // subscribed, and Lag counts it from then.
    EnsureGroups(reader->group(), from_tail, owned, [this, reader, owned, ready](bool ok) {
      RefreshLag([reader, owned, ok, ready] {
        reader->Start(owned, ok);
        ready->set_value();
      });
    });
  });
  ready->get_future().wait_for(std::chrono::milliseconds(2 * options_.redis.command_timeout_ms));
}

void RedisMessageLog::EnsureGroups(const std::string& group, bool from_tail,
                                   std::vector<uint32_t> partitions,
                                   std::function<void(bool ok)> then) {
  if (partitions.empty()) return then(true);
  auto join = MakeJoin<Status>(partitions.size(), [then = std::move(then)](std::vector<Status>& r) {
    bool ok = std::all_of(r.begin(), r.end(), [](const Status& s) { return s.ok(); });
    if (!ok) spdlog::warn("event=log_group_create_failed");
    then(ok);
  });
  for (size_t i = 0; i < partitions.size(); ++i) {
    client_->Eval(log_scripts::CreateGroup(), {redis::LogKey(partitions[i])},
                  {group, from_tail ? "1" : "0"},
                  [join, i](StatusOr<Reply> r) { join->Done(i, ReplyStatus(r)); });
  }
}

void RedisMessageLog::RefreshLag(std::function<void()> then) {
  std::vector<uint32_t> owned;
  {
    std::lock_guard lock(mu_);
    for (uint32_t p = 0; p < owned_.size(); ++p) {
      if (owned_[p]) owned.push_back(p);
    }
  }
  if (owned.empty()) {
    if (then) then();
    return;
  }
  // All issued in one turn of the log's thread: contiguous on the
  // connection, so every append and XACK answered before the last reply is
  // in the snapshot and every later one is not.
  // A failed call is recorded as an error reply.
  auto join = MakeJoin<Reply>(owned.size(), [this, owned,
                                             then = std::move(then)](std::vector<Reply>& replies) {
    bool ok = std::all_of(replies.begin(), replies.end(),
                          [](const Reply& r) { return !r.is_error() && r.elements.size() == 2; });
    if (ok) {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < owned.size(); ++i) {
        PartitionSnapshot snap;
        snap.length = static_cast<uint64_t>(std::max<int64_t>(0, replies[i].elements[0].integer));
        const auto& g = replies[i].elements[1].elements;
        for (size_t j = 0; j + 1 < g.size(); j += 2) {
          snap.groups[g[j].str] = static_cast<uint64_t>(std::max<int64_t>(0, g[j + 1].integer));
        }
        snapshot_[owned[i]] = std::move(snap);
      }
      appended_since_snapshot_ = 0;
      for (auto& [name, gs] : groups_) gs->acked_since_snapshot = 0;
    }
    if (then) then();
  });
  for (size_t i = 0; i < owned.size(); ++i) {
    client_->Eval(log_scripts::LagSnapshot(), {redis::LogKey(owned[i])}, {},
                  [join, i](StatusOr<Reply> r) {
                    if (!r.ok()) {
                      Reply failed;
                      failed.type = Reply::Type::kError;
                      join->Done(i, std::move(failed));
                      return;
                    }
                    join->Done(i, std::move(r).value());
                  });
  }
}

void RedisMessageLog::Trim() {
  std::vector<uint32_t> owned;
  {
    std::lock_guard lock(mu_);
    for (uint32_t p = 0; p < owned_.size(); ++p) {
      if (owned_[p]) owned.push_back(p);
    }
  }
  for (uint32_t p : owned) {
    client_->Eval(
        log_scripts::Trim(), {redis::LogKey(p)}, options_.trim_groups, [p](StatusOr<Reply> r) {
          if (Status s = ReplyStatus(r); !s.ok()) {
            spdlog::debug("event=log_trim_failed partition={} error=\"{}\"", p, s.message());
          }
        });
  }
}

void RedisMessageLog::ScheduleLagRefresh() {
  lag_timer_.expires_after(std::chrono::milliseconds(options_.lag_refresh_ms));
  lag_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || closing_) return;
    RefreshLag(nullptr);
    ScheduleLagRefresh();
  });
}

void RedisMessageLog::ScheduleTrim() {
  trim_timer_.expires_after(std::chrono::milliseconds(options_.trim_interval_ms));
  trim_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || closing_) return;
    Trim();
    ScheduleTrim();
  });
}

void RedisMessageLog::Ack(const std::string& group, const std::vector<uint64_t>& offsets) {
  std::lock_guard lock(mu_);
  auto& gs = groups_[group];
  if (!gs) gs = std::make_unique<GroupState>();
  auto& pending = acks_[group];
  uint64_t counted = 0;
  for (uint64_t offset : offsets) {
    auto pos = DecodeOffset(offset);
    if (!pos || pos->partition >= options_.partitions) continue;
    if (gs->delivered.erase(offset) > 0) ++counted;
    pending[pos->partition].push_back(pos->number);
  }
  gs->acks_unconfirmed += counted;
  acks_counted_[group] += counted;
  if (!flush_scheduled_ && !pending.empty()) {
    flush_scheduled_ = true;
    boost::asio::post(io_, [this] { FlushAcks(nullptr); });
  }
}

void RedisMessageLog::FlushAcks(std::function<void()> then) {
  if (then) flush_waiters_.push_back(std::move(then));
  std::map<std::string, std::map<uint32_t, std::vector<uint64_t>>, std::less<>> acks;
  std::map<std::string, uint64_t, std::less<>> counted;
  {
    std::lock_guard lock(mu_);
    acks.swap(acks_);
    counted.swap(acks_counted_);
    flush_scheduled_ = false;
  }
  std::vector<std::vector<std::string>> cmds;
  for (const auto& [group, by_partition] : acks) {
    for (const auto& [p, numbers] : by_partition) {
      for (size_t i = 0; i < numbers.size(); i += kMaxIdsPerXack) {
        std::vector<std::string> cmd = {"XACK", redis::LogKey(p), group};
        size_t end = std::min(numbers.size(), i + kMaxIdsPerXack);
        for (size_t j = i; j < end; ++j) cmd.push_back(EntryId(numbers[j]));
        cmds.push_back(std::move(cmd));
      }
    }
  }
  if (cmds.empty()) {
    if (ack_flushes_in_flight_ == 0) NotifyFlushWaiters();
    return;
  }
  ++ack_flushes_in_flight_;
  client_->Pipeline(std::move(cmds), [this, acks = std::move(acks), counted = std::move(counted)](
                                         StatusOr<std::vector<Reply>> r) mutable {
    OnAcksAnswered(r.ok() ? Status::Ok() : r.status(), acks, counted);
    if (--ack_flushes_in_flight_ == 0) NotifyFlushWaiters();
  });
}

void RedisMessageLog::NotifyFlushWaiters() {
  auto waiters = std::move(flush_waiters_);
  flush_waiters_.clear();
  for (auto& w : waiters) w();
}

void RedisMessageLog::OnAcksAnswered(
    const Status& status,
    std::map<std::string, std::map<uint32_t, std::vector<uint64_t>>, std::less<>>& acks,
    const std::map<std::string, uint64_t, std::less<>>& counted) {
  {
    std::lock_guard lock(mu_);
    if (status.ok() || closing_) {
      // After Close began, unsent acks are redelivered: at least once.
      for (const auto& [group, n] : counted) {
        auto& gs = groups_[group];
        if (!gs) gs = std::make_unique<GroupState>();
        gs->acks_unconfirmed -= std::min(gs->acks_unconfirmed, n);
        if (status.ok()) gs->acked_since_snapshot += n;
      }
      return;
    }
    spdlog::warn("event=log_ack_failed error=\"{}\"", status.message());
    for (auto& [group, by_partition] : acks) {
      for (auto& [p, numbers] : by_partition) {
        auto& dst = acks_[group][p];
        dst.insert(dst.end(), numbers.begin(), numbers.end());
      }
    }
    for (const auto& [group, n] : counted) acks_counted_[group] += n;
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, kRetryDelay);
  timer->async_wait([this, timer](const boost::system::error_code&) { FlushAcks(nullptr); });
}

uint64_t RedisMessageLog::Lag(const std::string& group) const {
  std::lock_guard lock(mu_);
  int64_t lag = static_cast<int64_t>(appended_since_snapshot_);
  for (uint32_t p = 0; p < owned_.size(); ++p) {
    if (!owned_[p]) continue;
    const auto& snap = snapshot_[p];
    auto it = snap.groups.find(group);
    lag += static_cast<int64_t>(it != snap.groups.end() ? it->second : snap.length);
  }
  if (auto it = groups_.find(group); it != groups_.end()) {
    lag -= static_cast<int64_t>(it->second->acked_since_snapshot + it->second->acks_unconfirmed);
  }
  return static_cast<uint64_t>(std::max<int64_t>(lag, 0));
}

void RedisMessageLog::SetPartitions(std::vector<uint32_t> owned) {
  std::vector<bool> mask(options_.partitions, false);
  for (uint32_t p : owned) {
    if (p < options_.partitions) mask[p] = true;
  }
  boost::asio::post(io_, [this, mask = std::move(mask)] {
    {
      std::lock_guard lock(mu_);
      owned_ = mask;
      // Entries of lost partitions are the next owner's to deliver and count.
      for (auto& [name, gs] : groups_) {
        std::erase_if(gs->delivered, [&](uint64_t offset) {
          auto pos = DecodeOffset(offset);
          return !pos || !mask[pos->partition];
        });
      }
    }
    for (auto& r : readers_) r->SetPartitions(mask);
    RefreshLag(nullptr);
  });
}

void RedisMessageLog::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::unique_lock lock(appends_mu_);
    if (closing_ && !thread_.joinable()) return;
    closing_ = true;
    appends_cv_.wait(lock, [&] { return appends_in_flight_ == 0; });
  }
  auto flushed = std::make_shared<std::promise<void>>();
  boost::asio::post(io_, [this, flushed] { FlushAcks([flushed] { flushed->set_value(); }); });
  flushed->get_future().wait_for(
      std::chrono::milliseconds(options_.redis.command_timeout_ms + 1000));
  boost::asio::post(io_, [this] {
    for (auto& r : readers_) r->Stop();
    readers_.clear();
    lag_timer_.cancel();
    trim_timer_.cancel();
    client_->Close();
  });
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

}  // namespace parley::queue

#include "logic/send_pipeline.h"

#include <unordered_map>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "common/validation.h"
#include "model/conversation.h"

namespace parley::logic {

namespace asio = boost::asio;

rpc::SendBatchReply FailedBatch(const rpc::SendBatch& batch, const Status& status) {
  rpc::SendBatchReply r;
  for (const rpc::SendRequest& q : batch.requests()) {
    rpc::SendReply* e = r.add_replies();
    e->set_client_id(q.client_id());
    status.ToProto(e->mutable_error());
  }
  return r;
}

// One Send call: its context (shared by its sends) and the replies so far.
struct SendPipeline::BatchReply {
  CallContext ctx;
  int64_t session_expires_at = 0;  // the caller's session, ms since the epoch
  rpc::SendBatchReply reply;
  size_t unanswered = 0;
  Callback<rpc::SendBatchReply> done;
};

struct SendPipeline::PendingSend {
  std::shared_ptr<BatchReply> batch;
  int index = 0;
  uint64_t from = 0;
  rpc::SendRequest req;
  std::string conv;
  int64_t received_ns = 0;
  bool queued = false;  // counted in in_flight_
  // The two admission checks, filled in as they answer.
  Check claim = Check::kRunning;
  bool owned = false;        // the idempotency key is ours (a new send)
  rpc::SendReply first_ack;  // when not owned: the earlier send's ack
  Check recipient = Check::kRunning;
  Status failure;  // why a check failed

  state::SendKey key() const { return {from, req.client_id(), conv}; }
};

SendPipeline::SendPipeline(Strand strand, const LogicDeps& deps, Accounts& accounts)
    : strand_(std::move(strand)),
      deps_(deps),
      accounts_(accounts),
      ids_(deps.clock, deps.options.node_id),
      send_limiter_(deps.clock, deps.options.rate.send_per_sec, deps.options.rate.send_burst) {}

SendPipeline::~SendPipeline() = default;

void SendPipeline::Send(const Caller& caller, const CallContext& ctx, rpc::SendBatch batch,
                        Callback<rpc::SendBatchReply> done) {
  const int n = batch.requests_size();
  auto reply = std::make_shared<BatchReply>();
  reply->done = std::move(done);
  if (n == 0) return reply->done(std::move(reply->reply));
  if (static_cast<uint32_t>(n) > deps_.options.limits.send_batch_max) {
    // Nothing of an oversized batch is taken: one error per request.
    Status s = Status::InvalidArgument("a send batch holds at most " +
                                       std::to_string(deps_.options.limits.send_batch_max));
    deps_.metrics.errors.Inc(s.code());
    return reply->done(FailedBatch(batch, s));
  }
  reply->ctx = ctx;
  reply->session_expires_at = caller.expires_at;
  reply->unanswered = n;
  for (int i = 0; i < n; ++i) reply->reply.add_replies();
  const int64_t now_ns = deps_.clock.MonotonicNs();
  // Seams that answer inline would pump after every send; hold the pump
  // until the whole batch is queued, so that it is appended together.
  const bool nested = pumping_;
  pumping_ = true;
  for (int i = 0; i < n; ++i) {
    auto send = std::make_unique<PendingSend>();
    send->batch = reply;
    send->index = i;
    send->from = caller.user_id;
    send->req = std::move(*batch.mutable_requests(i));
    send->received_ns = now_ns;
    const rpc::SendRequest& r = send->req;
    Status s = ValidateClientId(r.client_id());
    if (s.ok() && (r.to_user() == 0) == (r.to_group() == 0)) {
      s = Status::InvalidArgument("exactly one of to_user and to_group is required");
    }
    if (s.ok())
      s = r.to_user() ? ValidateId(r.to_user(), "to_user") : ValidateId(r.to_group(), "to_group");
    if (s.ok()) s = ValidateBody(r.body(), deps_.options.limits);
    if (!s.ok()) {
      AnswerError(*send, s);
      continue;
    }
    int64_t retry = 0;
    if (!send_limiter_.TryTake(send->from, &retry)) {
      AnswerError(*send, Status::RateLimited("sending too fast"), retry);
      continue;
    }
    send->conv = r.to_user() ? model::ConvId::Private(send->from, r.to_user()).ToString()
                             : model::ConvId::Group(r.to_group()).ToString();
    ++in_flight_;
    send->queued = true;
    PendingSend& queued = *send;
    waiting_.push_back(std::move(send));
    StartChecks(queued);
  }
  if (nested) {
    pump_again_ = true;
    return;
  }
  pumping_ = false;
  Pump();
}

void SendPipeline::OnStrand(std::function<void()> fn) {
  if (strand_.running_in_this_thread()) {
    fn();
    Pump();
    return;
  }
  asio::post(strand_, [this, fn = std::move(fn)] {
    fn();
    Pump();
  });
}

void SendPipeline::StartChecks(PendingSend& send) {
  // Both checks run at once; a queued send is destroyed only once both have
  // answered, so `p` stays valid in their callbacks.
  PendingSend* p = &send;
  deps_.sent.Claim(send.key(), deps_.clock.NowMs(), [this, p](StatusOr<state::Claim> c) {
    OnStrand([p, c = std::move(c)]() mutable {
      if (!c.ok()) {
        p->claim = Check::kFailed;
        p->failure = Status::Unavailable("idempotency records unavailable; retry");
        spdlog::error("event=claim_failed rid={} error=\"{}\"", p->batch->ctx.request_id,
                      c.status().message());
        return;
      }
      p->claim = Check::kPassed;
      p->owned = c->owned;
      if (!c->owned) p->first_ack = std::move(c->first_ack);
    });
  });
  CheckRecipient(send);
}

void SendPipeline::CheckRecipient(PendingSend& send) {
  PendingSend* p = &send;
  if (uint64_t to = send.req.to_user()) {
    if (accounts_.Known(to)) {
      send.recipient = Check::kPassed;
      return;
    }
    deps_.store.FindUserById(to, [this, p, to](StatusOr<store::UserRecord> u) {
      OnStrand([this, p, to, status = u.status()] {
        if (status.ok()) {
          accounts_.Remember(to);
          p->recipient = Check::kPassed;
          return;
        }
        p->recipient = Check::kFailed;
        p->failure =
            status.IsNotFound() ? Status::NotFound("no user " + std::to_string(to)) : status;
      });
    });
    return;
  }
  uint64_t gid = send.req.to_group();
  deps_.groups.Get(gid, [this, p, gid](StatusOr<state::GroupPtr> g) {
    OnStrand([p, gid, g = std::move(g)] {
      if (!g.ok()) {
        p->recipient = Check::kFailed;
        p->failure = g.status().IsNotFound() ? Status::NotFound("no group " + std::to_string(gid))
                                             : g.status();
      } else if (!state::IsMember(**g, p->from)) {
        p->recipient = Check::kFailed;
        p->failure = Status::PermissionDenied("not a member of this group");
      } else {
        p->recipient = Check::kPassed;
      }
    });
  });
}

void SendPipeline::Pump() {
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  do {
    pump_again_ = false;
    Admit();
    Flush();
  } while (pump_again_);
  pumping_ = false;
}

void SendPipeline::Admit() {
  std::vector<state::SendKey> release;
  while (!waiting_.empty()) {
    PendingSend& s = *waiting_.front();
    if (s.claim == Check::kRunning || s.recipient == Check::kRunning) break;
    if (s.claim == Check::kFailed) {
      AnswerError(s, s.failure);
    } else if (!s.owned) {
      // A resend: the first ack, unchanged, whatever the body.
      deps_.metrics.messages_duplicate.Inc();
      Answer(s, s.first_ack);
    } else if (s.recipient == Check::kFailed) {
      release.push_back(s.key());
      AnswerError(s, s.failure);
    } else {
      ready_.push_back(std::move(waiting_.front()));
    }
    waiting_.pop_front();
  }
  if (!release.empty()) deps_.sent.Release(std::move(release), [](Status) {});
}

void SendPipeline::Flush() {
  if (appending_ || ready_.empty()) return;
  auto batch = std::make_shared<Batch>();
  batch->reserve(ready_.size());
  std::vector<state::SendKey> expired;
  const int64_t now_ms = deps_.clock.NowMs();
  for (auto& s : ready_) {
    const int64_t deadline_ms = s->batch->ctx.deadline_ms;
    if (deadline_ms != 0 && deadline_ms <= now_ms) {
      expired.push_back(s->key());
      AnswerError(*s, Status::Unavailable("deadline exceeded"));
      continue;
    }
    // A send that waited here past its session's expiry is not stored.
    if (s->batch->session_expires_at <= now_ms) {
      expired.push_back(s->key());
      AnswerError(*s, Status::Unauthenticated("token expired"));
      continue;
    }
    batch->push_back(std::move(s));
  }
  ready_.clear();
  if (!expired.empty()) deps_.sent.Release(std::move(expired), [](Status) {});
  if (batch->empty()) return;
  appending_ = true;
  std::vector<state::SeqClaim> claims;
  std::unordered_map<std::string_view, size_t> claim_of;
  for (const auto& s : *batch) {
    auto [it, added] = claim_of.try_emplace(s->conv, claims.size());
    if (added) claims.push_back({s->conv, 0});
    ++claims[it->second].count;
  }
  deps_.seqs.Acquire(std::move(claims), [this, batch](StatusOr<state::SeqLease> lease) {
    OnStrand(
        [this, batch, lease = std::move(lease)]() mutable { OnLeased(batch, std::move(lease)); });
  });
}

void SendPipeline::OnLeased(SharedBatch batch, StatusOr<state::SeqLease> lease) {
  if (!lease.ok()) {
    spdlog::error("event=seq_lease_failed count={} error=\"{}\"", batch->size(),
                  lease.status().message());
    Fail(*batch, Status::Unavailable("sequence allocator unavailable; retry"));
    appending_ = false;
    return;
  }
  // The claims were made in order of first appearance; walk them the same way.
  std::unordered_map<std::string_view, uint64_t> next_seq;
  size_t claim = 0;
  for (const auto& s : *batch) {
    if (next_seq.try_emplace(s->conv, 0).second) next_seq[s->conv] = lease->first[claim++];
  }
  auto messages = std::make_shared<std::vector<rpc::ChatMessage>>();
  messages->reserve(batch->size());
  const int64_t now = deps_.clock.NowMs();
  for (const auto& s : *batch) {
    rpc::ChatMessage& m = messages->emplace_back();
    m.set_msg_id(ids_.Next());
    m.set_conv(s->conv);
    m.set_seq(next_seq[s->conv]++);
    m.set_from(s->from);
    m.set_to_user(s->req.to_user());
    m.set_to_group(s->req.to_group());
    m.set_body(s->req.body());
    m.set_ts(now);
    m.set_client_id(s->req.client_id());
    const CallContext& ctx = s->batch->ctx;
    m.set_request_id(ctx.request_id);
    m.set_origin_node(ctx.origin_node);
    m.set_origin_conn(ctx.origin_conn);
  }
  const int64_t started = deps_.clock.MonotonicNs();
  const uint64_t lease_id = lease->id;
  // The log takes its own copy; ours is for the acks and the recent window.
  deps_.log.Append(*messages, [this, batch, messages, lease_id, started](Status s) {
    deps_.metrics.commit_latency.ObserveNs(deps_.clock.MonotonicNs() - started);
    OnStrand([this, batch, messages, lease_id, s = std::move(s)]() mutable {
      OnAppended(batch, messages, lease_id, std::move(s));
    });
  });
}

void SendPipeline::OnAppended(SharedBatch batch,
                              std::shared_ptr<std::vector<rpc::ChatMessage>> messages,
                              uint64_t lease_id, Status status) {
  if (!status.ok()) {
    // Nothing of the batch is durable: the seqs go back (the lease still
    // holds the conversations, so no later seq was handed out) and every
    // send fails; a retry is numbered anew.
    spdlog::error("event=append_failed count={} error=\"{}\"", batch->size(), status.message());
    deps_.seqs.Abort(lease_id, [](Status s) {
      if (!s.ok()) spdlog::error("event=seq_abort_failed error=\"{}\"", s.message());
    });
    Fail(*batch, Status::Unavailable("message log unavailable; retry"));
    appending_ = false;
    return;
  }
  // Into the recent window while the lease still holds the conversations:
  // windows then grow in seq order whichever node appends next, and any node
  // can serve the messages once the commit makes them part of Last().
  deps_.recent.Add(*messages, deps_.clock.NowMs(), [this, batch, messages, lease_id](Status s) {
    if (!s.ok()) spdlog::warn("event=recent_window_add_failed error=\"{}\"", s.message());
    OnStrand([this, batch, messages, lease_id] { Commit(batch, messages, lease_id); });
  });
}

void SendPipeline::Commit(SharedBatch batch,
                          std::shared_ptr<std::vector<rpc::ChatMessage>> messages,
                          uint64_t lease_id) {
  deps_.seqs.Commit(lease_id, [this, batch, messages](Status s) {
    // The batch is durable whatever the allocator says: ack it. A lost commit
    // is the allocator's to repair from the log (see sequence_allocator.h).
    if (!s.ok()) spdlog::error("event=seq_commit_failed error=\"{}\"", s.message());
    OnStrand([this, batch, messages] { OnCommitted(batch, messages); });
  });
}

void SendPipeline::OnCommitted(SharedBatch batch,
                               std::shared_ptr<std::vector<rpc::ChatMessage>> messages) {
  std::vector<std::pair<state::SendKey, rpc::SendReply>> records;
  records.reserve(batch->size());
  std::vector<rpc::SendReply> acks;
  acks.reserve(batch->size());
  for (size_t i = 0; i < batch->size(); ++i) {
    const rpc::ChatMessage& m = (*messages)[i];
    rpc::SendReply& ack = acks.emplace_back();
    ack.set_client_id(m.client_id());
    ack.set_msg_id(m.msg_id());
    ack.set_conv(m.conv());
    ack.set_seq(m.seq());
    ack.set_ts(m.ts());
    records.emplace_back((*batch)[i]->key(), ack);
    SPDLOG_DEBUG("event=accepted rid={} from={} conv={} seq={} msg_id={}", m.request_id(), m.from(),
                 m.conv(), m.seq(), m.msg_id());
  }
  // Resends that arrive from now on wait for (or find) these records.
  deps_.sent.Complete(std::move(records), [](Status s) {
    if (!s.ok()) spdlog::error("event=idempotency_complete_failed error=\"{}\"", s.message());
  });
  const int64_t now_ns = deps_.clock.MonotonicNs();
  for (size_t i = 0; i < batch->size(); ++i) {
    PendingSend& s = *(*batch)[i];
    deps_.metrics.send_latency.ObserveNs(now_ns - s.received_ns);
    Answer(s, std::move(acks[i]));
  }
  deps_.metrics.messages_accepted.Inc(batch->size());
  appending_ = false;
}

void SendPipeline::Fail(Batch& batch, const Status& status) {
  std::vector<state::SendKey> keys;
  keys.reserve(batch.size());
  for (auto& s : batch) keys.push_back(s->key());
  deps_.sent.Release(std::move(keys), [](Status) {});
  for (auto& s : batch) AnswerError(*s, status);
}

void SendPipeline::Answer(PendingSend& send, rpc::SendReply reply) {
  BatchReply& b = *send.batch;
  *b.reply.mutable_replies(send.index) = std::move(reply);
  if (send.queued) --in_flight_;
  if (--b.unanswered == 0) b.done(std::move(b.reply));
}

void SendPipeline::AnswerError(PendingSend& send, const Status& status, int64_t retry_after_ms) {
  rpc::SendReply reply;
  reply.set_client_id(send.req.client_id());
  status.ToProto(reply.mutable_error());
  if (retry_after_ms) reply.mutable_error()->set_retry_after_ms(retry_after_ms);
  deps_.metrics.errors.Inc(status.code());
  Answer(send, std::move(reply));
}

}  // namespace parley::logic

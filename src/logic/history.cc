#include "logic/history.h"

#include <algorithm>

#include "common/validation.h"
#include "wire/message_json.h"

namespace parley::logic {

namespace {

// Seqs travel as JSON numbers: above 2^53 a client cannot even write them
// exactly, and arithmetic on them (after_seq + limit) would wrap.
Status ValidateSeq(uint64_t seq, const char* field) {
  if (seq <= kMaxSafeId) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + " must be an integer from 0 to 2^53-1");
}

}  // namespace

History::History(const LogicDeps& deps, Groups& groups, Fanout& fanout)
    : deps_(deps),
      groups_(groups),
      fanout_(fanout),
      sync_limiter_(deps.clock, deps.options.rate.sync_per_sec, deps.options.rate.sync_burst),
      read_limiter_(deps.clock, deps.options.rate.read_per_sec, deps.options.rate.read_burst),
      cursors_(deps.options.storage.read_cursor_cache_max) {}

bool History::FitToReplyBytes(std::vector<rpc::ChatMessage>& page, bool forward) const {
  const size_t max = deps_.options.limits.sync_reply_max_bytes;
  std::string json;
  size_t total = 0, keep = 0;
  for (size_t i = 0; i < page.size(); ++i) {
    const rpc::ChatMessage& m = forward ? page[i] : page[page.size() - 1 - i];
    json.clear();
    wire::AppendMessageJson(json, m);
    total += json.size() + 1;  // and its comma
    if (keep > 0 && total > max) break;
    ++keep;
  }
  if (keep == page.size()) return false;
  if (forward) {
    page.resize(keep);
  } else {
    page.erase(page.begin(), page.end() - static_cast<std::ptrdiff_t>(keep));
  }
  return true;
}

Task<StatusOr<uint64_t>> History::LastSeq(const std::string& conv) {
  auto last = co_await Await<StatusOr<std::vector<uint64_t>>>(
      [&](auto cb) { deps_.seqs.Last({conv}, cb); });
  if (!last.ok()) co_return last.status();
  co_return (*last)[0];
}

Task<Status> History::Authorize(uint64_t user, const model::ConvId& conv) {
  if (!conv.is_group()) {
    if (!conv.HasParticipant(user))
      co_return Status::PermissionDenied("not a participant of this conversation");
    co_return Status::Ok();
  }
  auto group = co_await groups_.Load(conv.group_id());
  if (!group.ok()) co_return group.status();
  if (!state::IsMember(**group, user))
    co_return Status::PermissionDenied("not a member of this group");
  co_return Status::Ok();
}

Task<StatusOr<std::vector<rpc::ConvState>>> History::Conversations(uint64_t user_id) {
  auto convs = co_await Await<StatusOr<std::vector<rpc::ConvState>>>(
      [&](auto cb) { deps_.store.ListConversations(user_id, cb); });
  if (!convs.ok()) co_return convs.status();
  // Private conversations so new that the store may not list them yet.
  auto fresh = co_await Await<StatusOr<std::vector<std::pair<std::string, uint64_t>>>>(
      [&](auto cb) { deps_.recent.NewConversations(user_id, deps_.clock.NowMs(), cb); });
  if (!fresh.ok()) co_return fresh.status();
  for (const auto& [conv, peer] : *fresh) {
    bool listed = std::any_of(convs->begin(), convs->end(),
                              [&](const rpc::ConvState& c) { return c.conv() == conv; });
    if (listed) continue;
    rpc::ConvState& c = convs->emplace_back();
    c.set_conv(conv);
    c.set_peer(peer);
  }
  // The store lags the log by the persist consumer; the allocator does not.
  std::vector<std::string> names;
  names.reserve(convs->size());
  for (const rpc::ConvState& c : *convs) names.push_back(c.conv());
  auto last = co_await Await<StatusOr<std::vector<uint64_t>>>(
      [&](auto cb) { deps_.seqs.Last(std::move(names), cb); });
  if (!last.ok()) co_return last.status();
  int64_t now = deps_.clock.NowMs();
  for (size_t i = 0; i < convs->size(); ++i) {
    rpc::ConvState& c = (*convs)[i];
    if ((*last)[i] <= c.last_seq()) continue;
    c.set_last_seq((*last)[i]);
    // Its newest message is in the recent window: its own time keeps the
    // order among several conversations the store has not caught up with.
    auto newest = co_await Await<StatusOr<std::vector<rpc::ChatMessage>>>(
        [&](auto cb) { deps_.recent.Range(c.conv(), c.last_seq(), c.last_seq(), cb); });
    const bool held = newest.ok() && !newest->empty();
    c.set_last_ts(std::max(c.last_ts(), held ? newest->back().ts() : now));
  }
  std::stable_sort(convs->begin(), convs->end(),
                   [](const auto& a, const auto& b) { return a.last_ts() > b.last_ts(); });
  co_return convs;
}

Task<rpc::SyncReply> History::Sync(const Caller& caller, rpc::SyncRequest req) {
  using R = rpc::SyncReply;
  const Limits& limits = deps_.options.limits;
  if (Status s = ValidateSeq(req.after_seq(), "after_seq"); !s.ok()) co_return ErrorReply<R>(s);
  if (Status s = ValidateSeq(req.before_seq(), "before_seq"); !s.ok()) co_return ErrorReply<R>(s);
  auto conv = model::ConvId::Parse(req.conv());
  if (!conv) co_return ErrorReply<R>(Status::InvalidArgument("conv is not a conversation id"));
  uint32_t limit = req.limit() == 0 ? limits.page_limit_default : req.limit();
  if (Status s = ValidateLimit(limit, limits); !s.ok()) co_return ErrorReply<R>(s);
  int64_t retry = 0;
  if (!sync_limiter_.TryTake(caller.user_id, &retry)) {
    co_return RateLimitedReply<R>("syncing too fast", retry);
  }
  if (Status s = co_await Authorize(caller.user_id, *conv); !s.ok()) co_return ErrorReply<R>(s);
  auto last_or = co_await LastSeq(req.conv());
  if (!last_or.ok()) co_return ErrorReply<R>(last_or.status());
  uint64_t last = *last_or;

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
  // The recent window first (the common "what did I just miss"); the store
  // for what lies below it; then the window again for what the store does
  // not have yet.
  std::vector<rpc::ChatMessage> page;
  uint64_t got = lo - 1;
  auto append = [&](std::vector<rpc::ChatMessage>& messages) {
    for (auto& m : messages) {
      if (m.seq() != got + 1 || m.seq() > hi) break;
      got = m.seq();
      page.push_back(std::move(m));
    }
  };
  auto window = co_await Await<StatusOr<std::vector<rpc::ChatMessage>>>(
      [&](auto cb) { deps_.recent.Range(req.conv(), lo, hi, cb); });
  if (!window.ok()) co_return ErrorReply<R>(window.status());
  append(*window);
  if (got < lo) {
    auto stored = co_await Await<StatusOr<store::MessagePage>>([&](auto cb) {
      deps_.store.GetMessages(req.conv(), lo - 1, true, 0, static_cast<uint32_t>(hi - lo + 1), cb);
    });
    if (!stored.ok()) co_return ErrorReply<R>(stored.status());
    append(stored->messages);
    if (got < hi) {
      window = co_await Await<StatusOr<std::vector<rpc::ChatMessage>>>(
          [&](auto cb) { deps_.recent.Range(req.conv(), got + 1, hi, cb); });
      if (!window.ok()) co_return ErrorReply<R>(window.status());
      append(*window);
    }
  }
  if (got < lo) {
    // Numbered and acknowledged, but neither in the window (too old for
    // it, or evicted by its byte bound) nor in the store yet (the persist
    // consumer is behind, e.g. the store was down): an empty page saying
    // "more" would send the client round in circles. It is there to read
    // shortly.
    co_return ErrorReply<R>(
        Status::Unavailable("messages " + std::to_string(lo) + ".." + std::to_string(hi) +
                            " are not readable yet (the store is catching up); retry shortly"));
  }
  // A page cut by bytes says has_more exactly as one cut by count: the
  // client pages on from its last (forward) or first (backwards) seq.
  bool forward = !backwards && req.has_after();
  FitToReplyBytes(page, forward);
  if (forward) {
    r.set_has_more(page.back().seq() < last);
  } else {
    r.set_has_more(page.front().seq() > 1);  // paging backwards: older messages exist
  }
  for (auto& m : page) *r.add_messages() = std::move(m);
  co_return r;
}

Task<rpc::ReadReply> History::Read(const Caller& caller, const CallContext& ctx,
                                   rpc::ReadRequest req) {
  using R = rpc::ReadReply;
  if (Status s = ValidateSeq(req.seq(), "seq"); !s.ok()) co_return ErrorReply<R>(s);
  auto conv = model::ConvId::Parse(req.conv());
  if (!conv) co_return ErrorReply<R>(Status::InvalidArgument("conv is not a conversation id"));
  int64_t retry = 0;
  if (!read_limiter_.TryTake(caller.user_id, &retry)) {
    co_return RateLimitedReply<R>("marking read too fast", retry);
  }
  if (Status s = co_await Authorize(caller.user_id, *conv); !s.ok()) co_return ErrorReply<R>(s);
  auto last = co_await LastSeq(req.conv());
  if (!last.ok()) co_return ErrorReply<R>(last.status());
  uint64_t seq = std::min(req.seq(), *last);
  R r;
  uint64_t known = cursors_.Get(caller.user_id, req.conv());
  if (seq <= known) {
    // Moves nothing: no write, no receipt to anyone.
    r.set_seq(known);
    co_return r;
  }
  auto cursor = co_await Await<StatusOr<uint64_t>>(
      [&](auto cb) { deps_.store.SetReadSeq(caller.user_id, req.conv(), seq, cb); });
  if (!cursor.ok()) co_return ErrorReply<R>(cursor.status());
  cursors_.Raise(caller.user_id, req.conv(), *cursor);
  r.set_seq(*cursor);
  // Past seq already (another node, or the user's own sends, moved it):
  // the participants were told then.
  if (*cursor > seq) co_return r;
  rpc::ReadReceipt receipt;
  receipt.set_conv(req.conv());
  receipt.set_user_id(caller.user_id);
  receipt.set_seq(*cursor);
  receipt.set_origin_node(ctx.origin_node);
  receipt.set_origin_conn(ctx.origin_conn);
  std::vector<uint64_t> users;
  if (conv->is_group()) {
    auto group = co_await groups_.Load(conv->group_id());
    if (group.ok()) users.assign((*group)->members().begin(), (*group)->members().end());
  } else {
    users = {conv->a};
    if (conv->b != conv->a) users.push_back(conv->b);
  }
  fanout_.PushRead(std::move(receipt), std::move(users));
  co_return r;
}

}  // namespace parley::logic

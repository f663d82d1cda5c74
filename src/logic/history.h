// History: what a user reads. The conversation list (for `hello` and the
// API), sync and history pages, and read cursors. Serves messages that are
// durable in the log but not yet in the store from the RecentWindow that the
// send pipeline feeds (shared by every node); the last seq of a conversation
// comes from the SequenceAllocator, so a page never stops short of an
// acknowledged message.
//
// Owns the per-user rate limits on sync/history pages and on read receipts,
// and the read cursors this node has seen (a receipt that moves nothing is
// neither written nor pushed). A page holds at most
// limits.sync_reply_max_bytes of message JSON, so that it always fits the
// client's outbound queue.
//
// Not thread-safe: runs on the Logic facade's strand. `deps`, `groups` and
// `fanout` must outlive it.
#pragma once

#include <vector>

#include "common/rate_limiter.h"
#include "logic/fanout.h"
#include "logic/groups.h"
#include "logic/logic_deps.h"
#include "logic/logic_service.h"
#include "logic/logic_task.h"
#include "logic/read_cursors.h"
#include "model/conversation.h"

namespace parley::logic {

class History {
 public:
  History(const LogicDeps& deps, Groups& groups, Fanout& fanout);

  // The user's conversations, most recent first, with their last seqs.
  Task<StatusOr<std::vector<rpc::ConvState>>> Conversations(uint64_t user_id);
  Task<rpc::SyncReply> Sync(const Caller& caller, rpc::SyncRequest req);
  // Moves the caller's read cursor and tells the other participants; a read
  // at or below the cursor is answered with the cursor and nothing else.
  Task<rpc::ReadReply> Read(const Caller& caller, const CallContext& ctx, rpc::ReadRequest req);
  // Is `user` a participant of `conv`? PERMISSION_DENIED / NOT_FOUND otherwise.
  Task<Status> Authorize(uint64_t user, const model::ConvId& conv);

 private:
  Task<StatusOr<uint64_t>> LastSeq(const std::string& conv);
  // Drops messages from the far end of `page` (the newest when paging
  // forward, the oldest otherwise) until their JSON fits the reply bound;
  // keeps at least one. True when any was dropped.
  bool FitToReplyBytes(std::vector<rpc::ChatMessage>& page, bool forward) const;

  const LogicDeps& deps_;
  Groups& groups_;
  Fanout& fanout_;
  KeyedRateLimiter<uint64_t> sync_limiter_;
  KeyedRateLimiter<uint64_t> read_limiter_;
  ReadCursors cursors_;
};

}  // namespace parley::logic

// History: what a user reads. The conversation list (for `hello` and the
// API), sync and history pages, and read cursors. Serves messages that are
// durable in the log but not yet in the store from the RecentWindow that the
// send pipeline feeds (shared by every node); the last seq of a conversation
// comes from the SequenceAllocator, so a page never stops short of an
// acknowledged message.
//
// Not thread-safe: runs on the Logic facade's strand. `deps`, `groups` and
// `fanout` must outlive it.
#pragma once

#include <vector>

#include "logic/fanout.h"
#include "logic/groups.h"
#include "logic/logic_deps.h"
#include "logic/logic_service.h"
#include "logic/logic_task.h"
#include "model/conversation.h"

namespace parley::logic {

class History {
 public:
  History(const LogicDeps& deps, Groups& groups, Fanout& fanout);

  // The user's conversations, most recent first, with their last seqs.
  Task<StatusOr<std::vector<rpc::ConvState>>> Conversations(uint64_t user_id);
  Task<rpc::SyncReply> Sync(const Caller& caller, rpc::SyncRequest req);
  // Moves the caller's read cursor and tells the other participants.
  Task<rpc::ReadReply> Read(const Caller& caller, const CallContext& ctx, rpc::ReadRequest req);
  // Is `user` a participant of `conv`? PERMISSION_DENIED / NOT_FOUND otherwise.
  Task<Status> Authorize(uint64_t user, const model::ConvId& conv);

 private:
  Task<StatusOr<uint64_t>> LastSeq(const std::string& conv);

  const LogicDeps& deps_;
  Groups& groups_;
  Fanout& fanout_;
};

}  // namespace parley::logic

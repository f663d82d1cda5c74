// RecentWindow in Redis (cluster mode), shared by every logic node.
//
// Per conversation, in its partition's slot, a sorted set
// "<prefix>:{p<k>}:recent:<conv>" of serialized messages (without request id
// and origin) scored by seq: the newest recent_per_conv messages, contiguous,
// of at most recent_conv_max_bytes in all (the newest always stays); beside
// it "<prefix>:{p<k>}:recentbytes:<conv>" counts those bytes (recounted when
// lost), so that trimming by bytes never reads the window.
// One script per partition adds a batch's messages: a message that continues
// the window is appended, one already held is ignored, any other (a gap)
// restarts the window with it. A window expires after recent_idle_ttl_ms
// without an Add, so memory is bounded by the conversations active lately.
//
// Per user, "<prefix>:{u<id>}:newconv" is a sorted set of "<conv>|<peer>"
// scored by the time its first message was added, trimmed to the last
// new_conversation_keep_ms and to the newest new_conversations_max entries.
//
// Thread-safe; no state of its own besides immutable options. Callbacks run
// on the Redis client's strand.
#pragma once

#include <memory>

#include "redis/redis_client.h"
#include "state/recent_window.h"
#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_state_options.h"

namespace parley::state {

class RedisRecentWindow final : public RecentWindow {
 public:
  RedisRecentWindow(std::shared_ptr<redis::RedisClient> client, RedisStateOptions options);

  void Add(std::vector<rpc::ChatMessage> messages, int64_t now_ms, Callback<Status> done) override;
  void Range(std::string conv, uint64_t lo, uint64_t hi,
             Callback<StatusOr<std::vector<rpc::ChatMessage>>> done) override;
  void NewConversations(
      uint64_t user_id, int64_t now_ms,
      Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) override;

 private:
  std::shared_ptr<redis::RedisClient> client_;
  const RedisStateOptions options_;
  const RedisStateKeys keys_;
  const redis::Script add_script_;
};

}  // namespace parley::state

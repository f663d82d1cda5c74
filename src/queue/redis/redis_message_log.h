// RedisMessageLog: the cluster's MessageLog, on Redis Streams partitioned by
// conversation (the Redis key schema: redis/partition.h).
//
// Append groups a batch by partition (keeping order) and runs one script per
// partition (log_scripts::Append), all pipelined in one round trip: with the
// seq fence on, every message with seq > 0 must carry its conversation's next
// seq (counter + 1) or nothing of that partition is written; then XADD, the
// counter and the idempotency record ("A" + rpc::SendReply, when from and
// client_id are set) are written in one atomic step. A batch whose partitions
// partly fail fails as a whole, but what the other partitions wrote stays
// (durable and consistent: each partition is all or nothing). A rejected
// seq fence fails with UNAVAILABLE and a message starting with
// kSeqFenceMessage. The fence also refuses a send whose idempotency record
// already holds an ack (UNAVAILABLE, kAcceptedFenceMessage): its claim
// lapsed under a slow owner and another node appended it, so it must not be
// stored twice; a resend gets the first ack. Messages with seq 0 are never
// fenced and move no counter. With the fence off (options.seq_fence) no
// counter is read or written and no record is read: the MessageLog contract
// alone, for callers that assign no seqs (the contract suite appends
// arbitrary seqs from several threads).
//
// Consumption: each Subscribe gets its own blocking connection and reads
// with XREADGROUP (consumer options.consumer) the partitions this process
// owns (SetPartitions; all by default). On gaining a partition it first takes
// over the pending entries of other consumers idle for takeover_idle_ms
// (XAUTOCLAIM), then delivers its own pending entries, then new ones. Entries
// pending longer than redelivery_ms (any consumer's) are claimed and
// delivered again. Entries of one partition are delivered in stream order;
// an entry's offset is a function of its partition and stream id
// (stream_offset.h): the same for every group and process. Acks are XACKs,
// batched per partition and pipelined. A group holds at most unacked_max
// delivered-unacked entries in this process; beyond it, only redeliveries.
//
// Trim: every trim_interval_ms, each owned partition is trimmed (XTRIM MINID)
// below the oldest entry any of its groups still needs, and only once every
// group of trim_groups exists there (a group not created yet would lose
// entries otherwise).
//
// Lag: a snapshot per owned partition (XINFO GROUPS: undelivered + pending,
// or XLEN for a group not there) refreshed every lag_refresh_ms on the same
// connection as the appends and acks, plus what this process appended and
// acked since: exact for this process's own appends and acks, up to
// lag_refresh_ms late for other processes'. Lag() never blocks on Redis.
//
// Threading: the log runs one thread of its own (an io_context): Redis I/O,
// and handlers, which must not block for long. Every method is thread-safe.
// Subscribe waits (at most twice redis.command_timeout_ms) until its group
// exists, so it must not be called from a handler. Close (or the destructor)
// completes pending appends and acks, stops delivery and joins the thread;
// not from a handler either.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "queue/message_log.h"
#include "redis/redis_client.h"

namespace parley::queue {

inline constexpr std::string_view kSeqFenceMessage = "seq fence";
inline constexpr std::string_view kAcceptedFenceMessage = "accepted before";

struct RedisMessageLogOptions {
  redis::ClientOptions redis;  // where Redis is; connections made: 1 + one per Subscribe
  uint32_t partitions = 16;    // fixed at cluster creation; 1..1024
  // This process's consumer name in every group: node id + epoch, e.g.
  // "logic-3:17". Required; unique among live processes.
  std::string consumer;
  bool seq_fence = true;
  int64_t idempotency_ttl_ms = 24LL * 3600 * 1000;  // storage.idempotency_ttl_ms
  // XREADGROUP BLOCK; below redis.command_timeout_ms. Ownership changes and
  // Close take effect within it: a partition gained from a dead task node
  // waits up to this long on top of the discovery lease (1 s made a task
  // kill's recovery vary from 1.6 to 2.5 s). A new entry ends the block at
  // once, so this costs only the idle polls (four per second per group).
  uint32_t block_ms = 250;
  // Entries pending this long (storage.log_redelivery_ms) are claimed and
  // delivered again; checked every redelivery_ms / 4 (at least 10 ms).
  uint32_t redelivery_ms = 30'000;
  // On gaining a partition, other consumers' entries pending this long are
  // taken over at once (ownership is exclusive: the old owner has stopped).
  uint32_t takeover_idle_ms = 1000;
  uint32_t trim_interval_ms = 5000;
  std::vector<std::string> trim_groups = {"push", "persist"};
  uint32_t lag_refresh_ms = 1000;
  uint32_t append_batch_max = 4096;  // messages per Append call
  uint32_t unacked_max = 100'000;    // delivered-unacked entries per group
  uint32_t claim_batch_max = 1000;   // entries per XAUTOCLAIM takeover call
};

class RedisMessageLog final : public MessageLog {
 public:
  // Validates the options and starts connecting (Redis need not be up yet:
  // calls fail with UNAVAILABLE until it is).
  static StatusOr<std::unique_ptr<RedisMessageLog>> Open(RedisMessageLogOptions options);
  ~RedisMessageLog() override;  // Close()

  void Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) override;
  void Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                 std::function<void(std::vector<LogEntry>)> handler) override;
  void Ack(const std::string& group, const std::vector<uint64_t>& offsets) override;
  uint64_t Lag(const std::string& group) const override;
  void Close() override;

  // The partitions this process consumes (from etcd's ownership); entries of
  // other partitions are neither delivered nor counted in Lag. Out-of-range
  // numbers are ignored. Takes effect within block_ms.
  void SetPartitions(std::vector<uint32_t> owned);

  uint32_t partitions() const { return options_.partitions; }

 private:
  class Reader;
  struct GroupState;
  struct PartitionSnapshot;

  explicit RedisMessageLog(RedisMessageLogOptions options);

  // On the log's thread.
  void IssueAppend(std::shared_ptr<std::vector<rpc::ChatMessage>> batch, Callback<Status> done);
  // Sends the queued acks; `then` (may be empty) runs once Redis answered
  // every ack sent so far.
  void FlushAcks(std::function<void()> then);
  void OnAcksAnswered(
      const Status& status,
      std::map<std::string, std::map<uint32_t, std::vector<uint64_t>>, std::less<>>& acks,
      const std::map<std::string, uint64_t, std::less<>>& counted);
  void NotifyFlushWaiters();
  // Takes a lag snapshot of the owned partitions; `then` runs after it.
  void RefreshLag(std::function<void()> then);
  void EnsureGroups(const std::string& group, bool from_tail, std::vector<uint32_t> partitions,
                    std::function<void(bool ok)> then);
  void Trim();
  void ScheduleLagRefresh();
  void ScheduleTrim();

  const RedisMessageLogOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::shared_ptr<redis::RedisClient> client_;  // all but the blocking reads
  boost::asio::steady_timer lag_timer_;
  boost::asio::steady_timer trim_timer_;
  // Log thread only.
  std::vector<std::shared_ptr<Reader>> readers_;
  uint64_t ack_flushes_in_flight_ = 0;
  std::vector<std::function<void()>> flush_waiters_;

  std::mutex close_mu_;  // serializes Close() callers
  std::atomic<bool> closing_{false};
  std::mutex appends_mu_;
  std::condition_variable appends_cv_;
  uint64_t appends_in_flight_ = 0;  // protected by appends_mu_

  mutable std::mutex mu_;
  // State below is protected by mu_.
  std::vector<bool> owned_;                  // by partition
  std::vector<PartitionSnapshot> snapshot_;  // by partition
  uint64_t appended_since_snapshot_ = 0;     // owned partitions only
  std::map<std::string, std::unique_ptr<GroupState>, std::less<>> groups_;
  std::map<std::string, std::map<uint32_t, std::vector<uint64_t>>, std::less<>> acks_;  // to send
  std::map<std::string, uint64_t, std::less<>> acks_counted_;  // lag decrements in acks_
  bool flush_scheduled_ = false;

  std::thread thread_;  // last: joined before the rest goes
};

}  // namespace parley::queue

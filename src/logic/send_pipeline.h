// SendPipeline: the path of a message through logic. Each send is
// validated and rate-limited, then admitted strictly in arrival order once
// its idempotency claim and its recipient check have answered (both run as
// soon as it arrives). Admitted sends wait for the next append: while one
// batch is being made durable, the next accumulates (group commit). At
// flush, the batch leases its conversations' next seqs from the
// SequenceAllocator, gets snowflake ids, and is appended to the message log;
// then the messages join the recent window, the lease is committed, the
// idempotency records completed, and every send acked. A failed append
// aborts the lease (the seqs are reused, no gap) and releases the claims (a
// retry is numbered anew): nothing is acked.
//
// Not thread-safe: runs on the Logic facade's strand; seam callbacks post
// back to it. `deps` and `accounts` must outlive it, and it must
// outlive every seam call it started (the facade drains it before
// destruction).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include "common/rate_limiter.h"
#include "common/snowflake.h"
#include "logic/accounts.h"
#include "logic/logic_deps.h"
#include "logic/logic_service.h"
#include "logic/logic_task.h"

namespace parley::logic {

// A reply to `batch` that answers each of its requests with `status`.
rpc::SendBatchReply FailedBatch(const rpc::SendBatch& batch, const Status& status);

class SendPipeline {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;

  SendPipeline(Strand strand, const LogicDeps& deps, Accounts& accounts);
  ~SendPipeline();

  // Takes a batch of the caller's sends; `done` gets replies[i] for
  // requests[i] once every send is answered. Call on the strand.
  void Send(const Caller& caller, const CallContext& ctx, rpc::SendBatch batch,
            Callback<rpc::SendBatchReply> done);

  // Sends taken but not yet answered (for draining and tests).
  size_t in_flight() const { return in_flight_; }

 private:
  struct BatchReply;
  struct PendingSend;
  enum class Check { kRunning, kPassed, kFailed };

  using Batch = std::vector<std::unique_ptr<PendingSend>>;
  using SharedBatch = std::shared_ptr<Batch>;

  void StartChecks(PendingSend& send);
  void CheckRecipient(PendingSend& send);
  // Runs `fn` on the strand, then pumps: at once when a seam answered on the
  // strand itself (inline), else posted.
  void OnStrand(std::function<void()> fn);
  // Admits, in order, every front send whose checks have answered, and
  // flushes; re-entrant calls (a seam answering inline) only ask for another
  // round.
  void Pump();
  void Admit();
  void Flush();
  void OnLeased(SharedBatch batch, StatusOr<state::SeqLease> lease);
  void OnAppended(SharedBatch batch, std::shared_ptr<std::vector<rpc::ChatMessage>> messages,
                  uint64_t lease_id, Status status);
  void Commit(SharedBatch batch, std::shared_ptr<std::vector<rpc::ChatMessage>> messages,
              uint64_t lease_id);
  void OnCommitted(SharedBatch batch, std::shared_ptr<std::vector<rpc::ChatMessage>> messages);
  // Answers every send of the batch with `status` and frees their keys.
  void Fail(Batch& batch, const Status& status);
  void Answer(PendingSend& send, rpc::SendReply reply);
  void AnswerError(PendingSend& send, const Status& status, int64_t retry_after_ms = 0);

  Strand strand_;
  const LogicDeps& deps_;
  Accounts& accounts_;

  // State below is accessed only on strand_.
  SnowflakeGenerator ids_;
  KeyedRateLimiter<uint64_t> send_limiter_;
  std::deque<std::unique_ptr<PendingSend>> waiting_;  // not yet admitted, in arrival order
  std::vector<std::unique_ptr<PendingSend>> ready_;   // admitted, for the next append
  bool appending_ = false;                            // one append in flight at a time
  bool pumping_ = false, pump_again_ = false;
  size_t in_flight_ = 0;
};

}  // namespace parley::logic

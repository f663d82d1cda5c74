// PushConsumer: the task tier's "push" consumer group. Reads accepted
// messages from the log in batches and, for each batch:
//  1. resolves every message's recipients: both parties of a private
//     message, every member of a group (GroupDirectory::Get, one call per
//     group in the batch: the logic tier's directory, whose cache answers
//     without a database read); the sender is one of them, for its other
//     connections;
//  2. finds all of the batch's recipients' live connections with one
//     Presence::Lookup;
//  3. sends each (node, node epoch) holding any of them one Push with the
//     batch's events for its users, in log order;
//  4. acks the batch once every node answered.
// Batches are handled one at a time (those that queued up meanwhile merged,
// up to Options::max_batch entries), so pushes leave in log order (and a
// ConnectService keeps the order of the pushes made to it: the gRPC client
// has one request in flight per node).
//
// When something fails:
// - A node epoch that is no longer in the directory (the node died, or came
//   back as a later epoch) gets no Push: its connections are dropped from
//   presence (RemoveNode), counted in Metrics::pushes_node_gone, logged once
//   per batch, and the batch is acked all the same: clients of a dead node
//   reconnect and sync.
// - A node epoch newer than any the directory has listed (a node that just
//   started, and registered connections before this process's directory
//   heard of it) is not gone: the batch waits for it, retried like a failed
//   Lookup, for at most Options::unknown_node_grace; only then is it treated
//   as gone (it registered and died unseen).
// - A failed Lookup, or a group's Get failing otherwise than NOT_FOUND, pushes
//   and acks nothing: that step is retried on `executor` after a backoff
//   (Options), for as long as it fails, and later batches wait behind it.
//   The log meanwhile redelivers the unacked entries; entries this consumer
//   already holds are recognized by offset and not pushed twice.
// - A group that does not exist has no recipients.
// A Push reaches connections best effort; clients fill gaps with sync.
//
// Thread-safety: call Start once; then the consumer runs on the threads of
// the log, group directory, presence, connect nodes and `executor`, with its shared
// state guarded by its own mutex. Lifetime: every reference given to the
// constructor outlives it; destroy it only after the log is closed,
// `executor` no longer runs, and every Push it made has answered.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/metrics.h"
#include "connect/connect_service.h"
#include "presence/presence.h"
#include "queue/message_log.h"
#include "state/group_directory.h"

namespace parley::task {

class PushConsumer {
 public:
  static constexpr const char* kGroup = "push";

  struct Options {
    // Entries per batch, so also users per Lookup (at most 2 per private
    // message, plus each group's members once).
    uint32_t max_batch = 1024;
    // First wait before retrying a failed Lookup or group Get; doubles on each
    // further failure of the same batch, up to retry_max.
    std::chrono::milliseconds retry_initial{10};
    std::chrono::milliseconds retry_max{1000};
    // How long a batch waits for a node epoch the directory has not listed
    // yet: longer than discovery takes to tell of a new node.
    std::chrono::milliseconds unknown_node_grace{5000};
  };

  PushConsumer(queue::MessageLog& log, state::GroupDirectory& groups, presence::Presence& presence,
               connect::ConnectDirectory& connects, Metrics& metrics,
               boost::asio::any_io_executor executor, Options options);

  // Subscribes to the log; delivery starts at once.
  void Start();

 private:
  struct Batch;
  struct Plan;

  // Log delivery thread.
  void OnBatch(std::vector<queue::LogEntry> entries);
  // Starts the next queued batch unless one is in progress.
  void StartNext();
  // The steps of one batch, each retried on failure.
  void FetchGroups(std::shared_ptr<Batch> batch);
  void LookUp(std::shared_ptr<Batch> batch);
  void RetryLater(std::shared_ptr<Batch> batch, void (PushConsumer::*step)(std::shared_ptr<Batch>));
  // Whether the batch should wait for a node the directory may not list yet.
  bool AwaitsUnseenNode(Batch& batch, const std::vector<std::vector<presence::Connection>>& conns);
  void Dispatch(const Batch& batch, const Plan& plan,
                const std::vector<std::vector<presence::Connection>>& conns);
  void Ack(const std::vector<uint64_t>& offsets);

  queue::MessageLog& log_;
  state::GroupDirectory& groups_;
  presence::Presence& presence_;
  connect::ConnectDirectory& connects_;
  Metrics& metrics_;
  const Options options_;
  // Used by one batch at a time (the one in progress).
  boost::asio::steady_timer retry_timer_;

  std::mutex mu_;
  // State below is protected by mu_.
  std::deque<std::shared_ptr<Batch>> queue_;
  bool busy_ = false;
  // Offsets taken in and not yet acked: one delivered again is a redelivery
  // of an entry still in progress. Bounded by what the log delivers unacked.
  std::unordered_set<uint64_t> in_hand_;
};

}  // namespace parley::task

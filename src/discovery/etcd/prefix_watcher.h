// PrefixWatcher: the keys under a prefix, kept current. Lists the prefix
// (Range), then watches it from the next revision; each revision's changes
// are applied together and the whole set handed to the handler. A failed
// stream is reopened from the next revision after retry_ms. When the watch is
// canceled because that revision was compacted away, it lists again and
// watches from the new revision, so no change is missed and a changed set is
// always delivered (several changes may then arrive as one call).
//
// Thread-safe. The handler runs on `executor`, one call at a time, in order
// of revision; after Stop() returns no call starts (Stop waits for a call in
// progress, and may be called from the handler itself).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "discovery/etcd/etcd_client.h"

namespace parley::discovery {

struct PrefixWatcherOptions {
  // Wait before reopening a failed stream or listing again after a failure.
  int64_t retry_ms = 200;
  // More keys than this under the prefix is an error (listed again later).
  int64_t max_keys = 10'000;
  // The first list is made before Start returns (blocking for one Range), so
  // the first call shows the keys as they were when Start was called. Falls
  // back to listing asynchronously if that Range fails.
  bool list_before_start_returns = true;
};

class PrefixWatcher {
 public:
  // Key -> its current KeyValue. The handler gets it with the revision it
  // reflects.
  using Snapshot = std::map<std::string, mvccpb::KeyValue>;

  static std::shared_ptr<PrefixWatcher> Start(
      std::shared_ptr<EtcdClient> client, boost::asio::any_io_executor executor, std::string prefix,
      PrefixWatcherOptions options, std::function<void(const Snapshot&, int64_t)> handler);
  virtual ~PrefixWatcher() = default;
  virtual void Stop() = 0;
  // How many times the prefix was listed (the first list included); tests
  // use it to see that a compaction was survived by listing again.
  virtual uint64_t lists() const = 0;
};

}  // namespace parley::discovery

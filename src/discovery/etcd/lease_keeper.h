// LeaseKeeper: keeps one etcd lease alive over a LeaseKeepAlive stream, and
// says when it can no longer promise that the lease is alive.
//
// A renewal is sent every ttl/3. The lease is known alive until (the time the
// last acknowledged renewal was *sent*) + ttl: etcd restarted its TTL no
// earlier than that. The keeper declares the lease lost, once and for good,
// when it answers with TTL 0 (etcd no longer has it), or when a tenth of the
// TTL is left before that bound without a new acknowledgement (etcd
// unreachable, stream broken): holders of things under the lease (partitions)
// must stop using them before etcd can give them to another node. A lost
// lease is revoked (best effort), so that its keys do not linger if etcd was
// merely slow.
//
// Thread-safe. `on_lost` runs once, on `executor`, unless Stop() came first.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "discovery/etcd/etcd_client.h"

namespace parley::discovery {

struct LeaseKeeperOptions {
  // Wait before reopening a failed keepalive stream.
  int64_t stream_retry_ms = 200;
};

class LeaseKeeper {
 public:
  // Starts keeping `lease_id` (granted with `ttl_s` seconds) alive.
  static std::shared_ptr<LeaseKeeper> Start(std::shared_ptr<EtcdClient> client,
                                            boost::asio::any_io_executor executor, int64_t lease_id,
                                            int64_t ttl_s, LeaseKeeperOptions options,
                                            std::function<void()> on_lost);
  virtual ~LeaseKeeper() = default;

  // Stops renewing (the lease then expires unless revoked). Idempotent.
  virtual void Stop() = 0;
  // True once the lease is declared lost.
  virtual bool lost() const = 0;
  virtual int64_t lease_id() const = 0;
};

}  // namespace parley::discovery

// MemoryDiscovery: Discovery within one process (embedded mode, and tests of
// discovery's users). Registrations and id allocations live in memory; there
// is no lease to renew or expire (a process that dies takes its registry with
// it), but TTLs are validated as the cluster implementation does.
//
// Thread-safe. Register, Nodes and AllocateId call `done` on the caller's
// thread before returning. Watch handlers run on `executor`, each watch on a
// strand of its own, so one call at a time per watch, in order of change.
// Registrations and watches may outlive the MemoryDiscovery (they share its
// state); `executor`'s context must outlive every watch.
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "discovery/discovery.h"

namespace parley::discovery {

class MemoryDiscovery final : public Discovery {
 public:
  explicit MemoryDiscovery(boost::asio::any_io_executor executor);
  ~MemoryDiscovery() override;
  MemoryDiscovery(const MemoryDiscovery&) = delete;
  MemoryDiscovery& operator=(const MemoryDiscovery&) = delete;

  void Register(NodeInfo node, int64_t ttl_ms,
                Callback<StatusOr<std::unique_ptr<Registration>>> done) override;
  void Nodes(std::string role, Callback<StatusOr<std::vector<NodeInfo>>> done) override;
  std::unique_ptr<Watch> WatchRole(std::string role,
                                   std::function<void(std::vector<NodeInfo>)> handler) override;
  void AllocateId(std::string scope, uint32_t max_id, int64_t ttl_ms,
                  Callback<StatusOr<std::unique_ptr<Registration>>> done) override;

  struct State;  // internal, shared with registrations and watches

 private:
  std::shared_ptr<State> state_;
};

}  // namespace parley::discovery

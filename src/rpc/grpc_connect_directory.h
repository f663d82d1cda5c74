// GrpcConnectDirectory: the ConnectDirectory of a cluster's task and logic
// processes. It follows the live nodes of role "connect" through a
// Discovery watch and keeps one ConnectGrpcClient per node incarnation
// (node id, epoch).
//
// Find and AllNodes answer from the last list discovery gave. A node that
// left, or came back with a new epoch, is gone from the directory; services
// handed out before stay usable (their calls complete, with empty replies if
// the node is gone). Until the watch has delivered its first list the
// directory is empty.
//
// `on_departed` is called for each (node id, epoch) that left the list
// (including an incarnation replaced by a new epoch), after Find stopped
// returning it, so that the owner can drop the presence of its connections.
// It runs on a thread of the discovery, one call at a time, and must not
// destroy the directory.
//
// Thread-safe. `discovery` must outlive the directory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "connect/connect_service.h"
#include "discovery/discovery.h"
#include "rpc/connect_grpc_client.h"

namespace parley::rpc {

struct GrpcConnectDirectoryOptions {
  // The discovery role whose nodes serve ConnectRPC.
  std::string role = "connect";
  ConnectGrpcClientOptions client;
  // Connect nodes followed at most; nodes listed beyond it are ignored.
  uint32_t max_nodes = 4096;
};

class GrpcConnectDirectory final : public connect::ConnectDirectory {
 public:
  using DepartedFn = std::function<void(const std::string& node_id, uint64_t epoch)>;

  // INVALID_ARGUMENT for invalid options.
  static StatusOr<std::unique_ptr<GrpcConnectDirectory>> Create(discovery::Discovery& discovery,
                                                                GrpcConnectDirectoryOptions options,
                                                                DepartedFn on_departed = {});
  ~GrpcConnectDirectory() override;
  GrpcConnectDirectory(const GrpcConnectDirectory&) = delete;
  GrpcConnectDirectory& operator=(const GrpcConnectDirectory&) = delete;

  std::shared_ptr<connect::ConnectService> Find(const std::string& node_id,
                                                uint64_t epoch = 0) override;
  std::vector<std::string> AllNodes() override;
  bool NotYetSeen(uint64_t epoch) override;

 private:
  GrpcConnectDirectory(GrpcConnectDirectoryOptions options, DepartedFn on_departed);
  void Update(const std::vector<discovery::NodeInfo>& nodes);

  const GrpcConnectDirectoryOptions options_;
  const DepartedFn on_departed_;
  std::mutex mu_;
  // State below is protected by mu_.
  std::map<std::string, std::shared_ptr<ConnectGrpcClient>> nodes_;  // by node id
  // The highest epoch any list has held: discovery's epochs are create
  // revisions, so every incarnation registered up to it has been seen.
  uint64_t newest_epoch_ = 0;
  // Declared last: destroyed first, so no handler runs on a dying directory.
  std::unique_ptr<discovery::Watch> watch_;
};

}  // namespace parley::rpc

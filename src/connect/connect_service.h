// ConnectService: the ConnectRPC service (proto/parley/connect.proto) as a
// C++ interface, what the task and logic tiers ask of one connect node. In
// embedded mode the node itself; in cluster mode a gRPC client. Thread-safe;
// `done` runs on a thread of the implementation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/callback.h"
#include "parley/connect.pb.h"

namespace parley::connect {

class ConnectService {
 public:
  virtual ~ConnectService() = default;
  // Queues each event on every live connection of its users on this node
  // (except the event's origin connection). A pushed message is serialized
  // once per event and its bytes shared by every connection. Pushes made by
  // one caller are queued in the order it made them.
  virtual void Push(rpc::PushRequest req, Callback<rpc::PushReply> done) = 0;
  virtual void Kick(rpc::KickRequest req, Callback<rpc::KickReply> done) = 0;
};

// Finds the ConnectService of a node by id. Embedded: the one local node;
// cluster: gRPC stubs kept up to date from discovery. Thread-safe. A service
// handed out stays usable (its calls complete, with an error if the node is
// gone) for as long as the caller holds it, even after the node left the
// directory.
class ConnectDirectory {
 public:
  virtual ~ConnectDirectory() = default;
  // nullptr when no live node has this id, or its epoch is not `epoch`
  // (epoch 0: any).
  virtual std::shared_ptr<ConnectService> Find(const std::string& node_id, uint64_t epoch = 0) = 0;
  // Every live connect node (for kicks that must reach all of them).
  virtual std::vector<std::string> AllNodes() = 0;
  // True when `epoch` is newer than every node incarnation this directory
  // has listed. Epochs are ordered across nodes (discovery's registration
  // order), so such a node may have registered after the directory last
  // heard from discovery: a Find miss for it does not yet mean it is gone.
  // A miss for an older epoch does.
  virtual bool NotYetSeen(uint64_t epoch) = 0;
};

}  // namespace parley::connect

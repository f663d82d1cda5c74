// DirectConnectDirectory: the ConnectDirectory of embedded mode, where the
// one connect node is this process's own and tier-to-tier calls are direct.
// Logic and the node need each other, so the node is attached after both
// exist and before anything is served.
//
// Thread-safety: Attach once, before the directory is shared with another
// thread; after that it is read-only, and Find and AllNodes are safe from any
// thread without a lock. Ownership: the directory shares ownership of the
// attached node, as does every caller of Find for as long as it holds the
// pointer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "connect/connect_service.h"

namespace parley::connect {

class DirectConnectDirectory final : public ConnectDirectory {
 public:
  explicit DirectConnectDirectory(std::string node_id) : node_id_(std::move(node_id)) {}

  // `epoch` is this incarnation of the node (> 0): presence records
  // connections under it, and a Find for another epoch finds nothing.
  void Attach(std::shared_ptr<ConnectService> node, uint64_t epoch) {
    node_ = std::move(node);
    epoch_ = epoch;
  }

  std::shared_ptr<ConnectService> Find(const std::string& node_id, uint64_t epoch = 0) override {
    if (node_id != node_id_ || (epoch != 0 && epoch != epoch_)) return nullptr;
    return node_;
  }
  std::vector<std::string> AllNodes() override {
    if (node_ == nullptr) return {};
    return {node_id_};
  }
  bool NotYetSeen(uint64_t epoch) override { return epoch > epoch_; }

 private:
  const std::string node_id_;
  std::shared_ptr<ConnectService> node_;
  uint64_t epoch_ = 0;
};

}  // namespace parley::connect

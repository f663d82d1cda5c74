// Tier-to-tier calls in embedded mode are direct: the one connect node is
// this process's ConnectNode. Logic and the node need each other, so the
// node is attached after both exist and before anything is served.
#pragma once

#include <string>
#include <vector>

#include "connect/connect_service.h"

namespace parley::app {

class DirectConnectDirectory final : public connect::ConnectDirectory {
 public:
  explicit DirectConnectDirectory(std::string node_id) : node_id_(std::move(node_id)) {}
  void Attach(connect::ConnectService* node) { node_ = node; }
  connect::ConnectService* Find(const std::string& node_id) override {
    return node_id == node_id_ ? node_ : nullptr;
  }
  std::vector<std::string> AllNodes() override { return {node_id_}; }

 private:
  std::string node_id_;
  connect::ConnectService* node_ = nullptr;
};

}  // namespace parley::app

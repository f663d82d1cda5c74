#include "rpc/grpc_connect_directory.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

namespace parley::rpc {

StatusOr<std::unique_ptr<GrpcConnectDirectory>> GrpcConnectDirectory::Create(
    discovery::Discovery& discovery, GrpcConnectDirectoryOptions options, DepartedFn on_departed) {
  if (Status s = Validate(options.client.channel); !s.ok()) return s;
  if (options.role.empty() || options.client.timeout_ms == 0 || options.max_nodes == 0 ||
      options.client.push_request_max_bytes == 0 || options.client.push_queue_max_bytes == 0) {
    return Status::InvalidArgument("connect directory: empty role or a zero limit");
  }
  std::unique_ptr<GrpcConnectDirectory> self(
      new GrpcConnectDirectory(std::move(options), std::move(on_departed)));
  GrpcConnectDirectory* raw = self.get();
  self->watch_ = discovery.WatchRole(
      self->options_.role, [raw](std::vector<discovery::NodeInfo> nodes) { raw->Update(nodes); });
  return self;
}

GrpcConnectDirectory::GrpcConnectDirectory(GrpcConnectDirectoryOptions options,
                                           DepartedFn on_departed)
    : options_(std::move(options)), on_departed_(std::move(on_departed)) {}

GrpcConnectDirectory::~GrpcConnectDirectory() { watch_.reset(); }

std::shared_ptr<connect::ConnectService> GrpcConnectDirectory::Find(const std::string& node_id,
                                                                    uint64_t epoch) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || (epoch != 0 && it->second->epoch() != epoch)) return nullptr;
  return it->second;
}

std::vector<std::string> GrpcConnectDirectory::AllNodes() {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  out.reserve(nodes_.size());
  for (const auto& [id, client] : nodes_) out.push_back(id);
  return out;
}

bool GrpcConnectDirectory::NotYetSeen(uint64_t epoch) {
  std::lock_guard lock(mu_);
  return epoch > newest_epoch_;
}

void GrpcConnectDirectory::Update(const std::vector<discovery::NodeInfo>& nodes) {
  std::vector<std::shared_ptr<ConnectGrpcClient>> departed;
  {
    std::map<std::string, std::shared_ptr<ConnectGrpcClient>> fresh;
    std::lock_guard lock(mu_);
    for (const discovery::NodeInfo& node : nodes) {
      if (node.node_id.empty() || node.address.empty() || fresh.contains(node.node_id)) continue;
      newest_epoch_ = std::max(newest_epoch_, node.epoch);
      if (fresh.size() >= options_.max_nodes) {
        spdlog::warn("event=connect_nodes_over_limit max_nodes={} listed={}", options_.max_nodes,
                     nodes.size());
        break;
      }
      auto it = nodes_.find(node.node_id);
      if (it != nodes_.end() && it->second->epoch() == node.epoch &&
          it->second->address() == node.address) {
        fresh.emplace(node.node_id, it->second);
        continue;
      }
      spdlog::info("event=connect_node_joined node={} epoch={} address={}", node.node_id,
                   node.epoch, node.address);
      fresh.emplace(node.node_id, std::make_shared<ConnectGrpcClient>(
                                      node.node_id, node.epoch, node.address, options_.client));
    }
    for (auto& [id, client] : nodes_) {
      auto it = fresh.find(id);
      if (it == fresh.end() || it->second->epoch() != client->epoch()) {
        departed.push_back(client);
      }
    }
    nodes_.swap(fresh);
  }
  for (const auto& client : departed) {
    spdlog::info("event=connect_node_left node={} epoch={}", client->node_id(), client->epoch());
    if (on_departed_) on_departed_(client->node_id(), client->epoch());
  }
}

}  // namespace parley::rpc

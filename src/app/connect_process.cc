// `parley connect`: WebSockets on options.listen (with /healthz and
// /readyz), /metrics on options.admin_listen, ConnectRPC on options.cluster.grpc_listen, logic
// reached over LogicRPC. Its load (live connections) is reported to discovery, so /api/v1/endpoints
// and the api's /ws proxy prefer the least loaded node.
#include <spdlog/spdlog.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "app/cluster_roles.h"
#include "app/node_runtime.h"
#include "connect/connect_node.h"
#include "connect/ws_listener.h"
#include "rpc/connect_grpc_server.h"
#include "rpc/logic_grpc_client.h"

namespace parley::app {

namespace {

// The WebSocket port is bound before the node exists (the node needs the
// epoch that registering the bound address gives): forwards upgrades to the
// node attached once it does. No upgrade arrives before Attach, since the
// listener starts accepting only afterwards.
class LateUpgrades final : public connect::UpgradeHandler {
 public:
  void Attach(std::shared_ptr<connect::ConnectNode> node) { node_ = std::move(node); }
  void Upgrade(boost::beast::tcp_stream stream,
               boost::beast::http::request<boost::beast::http::string_body> request,
               boost::beast::flat_buffer buffer) override {
    node_->Upgrade(std::move(stream), std::move(request), std::move(buffer));
  }

 private:
  std::shared_ptr<connect::ConnectNode> node_;
};

constexpr std::chrono::seconds kLoadReportInterval{2};

// The IP address of a "host:port" (or "[v6]:port"); empty when it is not a
// literal, specific address (a wildcard bind says nothing of where the
// process connects from).
std::string IpOf(const std::string& host_port) {
  std::string host = host_port.substr(0, host_port.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(host, ec);
  if (ec || ip.is_unspecified()) return "";
  return ip.to_string();
}

// The addresses the cluster's api processes connect from, as their /ws proxy
// does: options.conn.ws_proxy_addresses plus every api node's own address.
std::vector<std::string> ProxyAddresses(const Options& options,
                                        const std::vector<discovery::NodeInfo>& apis) {
  std::vector<std::string> out;
  const std::string& list = options.conn.ws_proxy_addresses;
  for (size_t pos = 0; pos <= list.size();) {
    size_t comma = std::min(list.find(',', pos), list.size());
    std::string item = list.substr(pos, comma - pos);
    std::erase(item, ' ');
    if (!item.empty()) out.push_back(item);
    pos = comma + 1;
  }
  for (const auto& api : apis) {
    if (std::string ip = IpOf(api.address); !ip.empty()) out.push_back(std::move(ip));
  }
  return out;
}

}  // namespace

int RunConnect(Options options) {
  NodeRuntime rt("connect", options);
  if (Status s = rt.Start(); !s.ok()) return rt.StartFailed(s);
  if (Status s = rt.ResolveName(); !s.ok()) return rt.StartFailed(s);

  auto logic = rpc::LogicGrpcClient::Create(rt.executor(), rt.discovery(), {}, &rt.clock());
  if (!logic.ok()) return rt.StartFailed(logic.status());

  LateUpgrades upgrades;
  std::shared_ptr<connect::ConnectNode> node;
  connect::WsListener listener(rt.executor(), options, upgrades, rt.metrics(),
                               [&node](Callback<Status> done) { node->Ready(std::move(done)); });
  if (Status s = listener.Listen(options.listen); !s.ok()) return rt.StartFailed(s);
  const std::string address = BoundAddress(options.listen, listener.port());
  const std::string ws_url =
      options.public_ws_url.empty() ? "ws://" + address + "/ws" : options.public_ws_url;

  // The node needs its epoch, which registering the gRPC address gives:
  // ConnectRPC listens first and serves the node once it exists, before the
  // WebSocket listener accepts anyone a push could be for.
  rpc::ConnectGrpcServer rpc_server(rpc::GrpcServerOptions{});
  if (Status s = rpc_server.Listen(options.cluster.grpc_listen); !s.ok()) return rt.StartFailed(s);
  const std::string grpc_address = BoundAddress(options.cluster.grpc_listen, rpc_server.port());
  if (Status s = rt.Register(grpc_address, ws_url, address); !s.ok()) return rt.StartFailed(s);

  node = connect::ConnectNode::Create(rt.executor(), rt.name(), rt.epoch(), options, **logic,
                                      rt.metrics(), rt.clock());
  upgrades.Attach(node);
  if (Status s = rt.ServeAdmin([&node](Callback<Status> done) { node->Ready(std::move(done)); },
                               options.admin_listen);
      !s.ok()) {
    return rt.StartFailed(s);
  }
  // The api's /ws proxy caps tunnels per client address; here its own
  // connections are not counted per IP (it would be one address for all).
  node->SetProxyAddresses(ProxyAddresses(options, {}));
  auto api_watch =
      rt.discovery().WatchRole("api", [&options, weak = std::weak_ptr<connect::ConnectNode>(node)](
                                          std::vector<discovery::NodeInfo> apis) {
        if (auto n = weak.lock()) n->SetProxyAddresses(ProxyAddresses(options, apis));
      });
  rpc_server.Serve(*node);
  listener.Start();
  rt.Announce(address);

  // Load reports: discovery orders connect nodes by them.
  boost::asio::steady_timer load_timer(rt.executor());
  std::function<void()> report = [&] {
    if (auto* reg = rt.registration()) reg->ReportLoad(node->connection_count());
    load_timer.expires_after(kLoadReportInterval);
    load_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) report();
    });
  };
  boost::asio::post(rt.executor(), report);

  rt.WaitForSignal();
  api_watch.reset();
  boost::asio::post(rt.executor(), [&] { load_timer.cancel(); });
  rt.Withdraw();
  listener.StopAccepting();
  Block<bool>([&](auto cb) { node->Drain([cb] { cb(true); }); });
  rpc_server.Shutdown();
  rt.Stop();
  return 0;
}

}  // namespace parley::app

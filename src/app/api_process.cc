// `parley api`: the public HTTP port of the cluster (API, web client,
// /healthz, /readyz, /api/v1/endpoints from discovery), with /ws proxied to a
// connect node; logic reached over LogicRPC. Several api processes share one
// port (SO_REUSEPORT); each has its own admin port (/metrics) on
// options.admin_listen.
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "api/http_server.h"
#include "api/ws_proxy.h"
#include "app/cluster_roles.h"
#include "app/node_runtime.h"
#include "rpc/logic_grpc_client.h"

namespace parley::app {

int RunApi(Options options) {
  options.share_listen_port = true;
  NodeRuntime rt("api", options);
  if (Status s = rt.Start(); !s.ok()) return rt.StartFailed(s);
  if (Status s = rt.ResolveName(); !s.ok()) return rt.StartFailed(s);

  auto logic = rpc::LogicGrpcClient::Create(rt.executor(), rt.discovery(), {}, &rt.clock());
  if (!logic.ok()) return rt.StartFailed(logic.status());
  api::WsProxy proxy(rt.discovery(),
                     {.tunnels_max = options.conn.ws_connections_max,
                      .tunnels_per_ip_max = options.conn.ws_connections_per_ip_max,
                      .write_stall_timeout_ms = options.conn.write_stall_timeout_ms});
  api::HttpServer http(rt.executor(), options, **logic, rt.discovery(), proxy, rt.metrics(),
                       rt.clock());
  if (Status s = http.Listen(options.listen); !s.ok()) return rt.StartFailed(s);
  const std::string address = BoundAddress(options.listen, http.port());
  if (Status s = rt.Register(address); !s.ok()) return rt.StartFailed(s);
  logic::LogicService& service = **logic;
  if (Status s = rt.ServeAdmin(
          [&service](Callback<Status> done) { service.Ready(logic::CallContext{}, done); },
          options.admin_listen);
      !s.ok()) {
    return rt.StartFailed(s);
  }
  http.Start();
  rt.Announce(address);

  rt.WaitForSignal();
  rt.Withdraw();
  http.StopAccepting();
  // Busy requests get their answers, and tunnels their last frames (connect
  // nodes stop first and close their sockets with 1001 through them), within
  // the drain timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.conn.drain_timeout_ms);
  while ((http.open_connections() > 0 || proxy.tunnels() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  rt.Stop();
  return 0;
}

}  // namespace parley::app

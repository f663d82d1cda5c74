// Fan-out of one message to 1,000 connections: serialize the push once,
// find each recipient's connections in the registry, and queue the shared
// bytes on each connection's outbound queue (then take them off again, as
// the writer would). Sessions are absent here: the socket writes are what
// parley-bench measures end to end.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "connect/connection_registry.h"
#include "connect/frame_codec.h"
#include "connect/outbound_queue.h"

namespace {

void BM_FanOutToConnections(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  parley::connect::ConnectionRegistry registry;
  std::vector<uint64_t> members;
  for (int i = 0; i < n; ++i) {
    uint64_t user = 1000 + i;
    members.push_back(user);
    registry.Add(user, /*conn_id=*/i, "key-" + std::to_string(i), nullptr);
  }
  std::vector<parley::connect::OutboundQueue> queues(n);
  parley::rpc::ChatMessage m;
  m.set_msg_id(1234567890123456789ULL);
  m.set_conv("g:77");
  m.set_seq(48213);
  m.set_from(1000);
  m.set_to_group(77);
  m.set_body(std::string(100, 'x'));
  m.set_ts(1'700'000'000'123);
  m.set_client_id("c-000123456");
  std::vector<parley::connect::ConnectionRegistry::Target> targets;
  for (auto _ : state) {
    auto frame = std::make_shared<const std::string>(parley::connect::MsgFrame(m));
    for (uint64_t user : members) {
      registry.SessionsOf(user, targets);
      for (const auto& t : targets) queues[t.conn_id].Push(frame);
    }
    for (auto& q : queues) q.PopFront();
  }
  state.SetItemsProcessed(state.iterations() * n);  // deliveries
}
BENCHMARK(BM_FanOutToConnections)->Arg(1000);

}  // namespace

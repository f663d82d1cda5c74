// WebSocket frame codec: every send is parsed once, every ack and push
// serialized once (a push's bytes are then shared by all its recipients).
#include <benchmark/benchmark.h>

#include <string>

#include "common/options.h"
#include "connect/frame_codec.h"

namespace {

const std::string kBody(100, 'x');

parley::rpc::ChatMessage SampleMessage() {
  parley::rpc::ChatMessage m;
  m.set_msg_id(1234567890123456789ULL);
  m.set_conv("p:1017:20931");
  m.set_seq(48213);
  m.set_from(1017);
  m.set_to_user(20931);
  m.set_body(kBody);
  m.set_ts(1'700'000'000'123);
  m.set_client_id("c-000123456");
  return m;
}

void BM_ParseSendFrame(benchmark::State& state) {
  const std::string text =
      R"({"type":"send","id":"c-000123456","to_user":20931,"body":")" + kBody + R"("})";
  parley::Limits limits;
  parley::connect::ClientFrame frame;
  for (auto _ : state) {
    parley::Status s = parley::connect::ParseClientFrame(text, limits, frame);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ParseSendFrame);

void BM_SerializeMsgFrame(benchmark::State& state) {
  parley::rpc::ChatMessage m = SampleMessage();
  for (auto _ : state) benchmark::DoNotOptimize(parley::connect::MsgFrame(m));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SerializeMsgFrame);

void BM_SerializeAckFrame(benchmark::State& state) {
  parley::rpc::SendReply r;
  r.set_client_id("c-000123456");
  r.set_msg_id(1234567890123456789ULL);
  r.set_conv("p:1017:20931");
  r.set_seq(48213);
  r.set_ts(1'700'000'000'123);
  for (auto _ : state) benchmark::DoNotOptimize(parley::connect::AckFrame("c-000123456", r));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SerializeAckFrame);

}  // namespace

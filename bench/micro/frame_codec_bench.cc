// WebSocket frame codec: every send is parsed once, every ack and push
// serialized once (a push's bytes are then shared by all its recipients).
#include <benchmark/benchmark.h>

#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/options.h"
#include "connect/frame_codec.h"
#include "wire/message_json.h"

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

// An HTTP history page of 50 messages, as the api writes it now (the shared
// hand-written encoder of wire/message_json.h) ...
parley::rpc::SyncReply SamplePage() {
  parley::rpc::SyncReply page;
  for (int i = 0; i < 50; ++i) *page.add_messages() = SampleMessage();
  page.set_has_more(true);
  return page;
}

void BM_HistoryPageWire(benchmark::State& state) {
  const parley::rpc::SyncReply page = SamplePage();
  for (auto _ : state) {
    std::string out = "{";
    parley::wire::AppendMessagePage(out, page);
    out += '}';
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * page.messages_size());
}
BENCHMARK(BM_HistoryPageWire);

// ... and as it wrote it before, building a Boost.JSON document.
void BM_HistoryPageBoostJson(benchmark::State& state) {
  const parley::rpc::SyncReply page = SamplePage();
  for (auto _ : state) {
    boost::json::array messages;
    messages.reserve(static_cast<size_t>(page.messages_size()));
    for (const parley::rpc::ChatMessage& m : page.messages()) {
      boost::json::object o{{"msg_id", std::to_string(m.msg_id())},
                            {"conv", m.conv()},
                            {"seq", m.seq()},
                            {"from", m.from()}};
      o["to_user"] = m.to_user();
      o["body"] = m.body();
      o["ts"] = m.ts();
      o["id"] = m.client_id();
      messages.emplace_back(std::move(o));
    }
    benchmark::DoNotOptimize(boost::json::serialize(
        boost::json::object{{"messages", std::move(messages)}, {"has_more", page.has_more()}}));
  }
  state.SetItemsProcessed(state.iterations() * page.messages_size());
}
BENCHMARK(BM_HistoryPageBoostJson);

}  // namespace

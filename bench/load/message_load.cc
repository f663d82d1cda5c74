#include "load/message_load.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

asio::awaitable<void> SleepUntilNs(asio::steady_timer& t, int64_t when_ns) {
  int64_t wait = when_ns - NowNs();
  if (wait <= 0) co_return;
  t.expires_after(std::chrono::nanoseconds(wait));
  co_await t.async_wait(as_tuple(use_awaitable));
}

bool ParseIndex(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

}  // namespace

void StepStats::Merge(const StepStats& o) {
  offered_rate += o.offered_rate;
  measured_sends += o.measured_sends;
  measured_expected += o.measured_expected;
  measured_delivered += o.measured_delivered;
  measured_acked += o.measured_acked;
  refused += o.refused;
  skipped_closed += o.skipped_closed;
  window_acks += o.window_acks;
  window_deliveries += o.window_deliveries;
  outstanding_after_grace += o.outstanding_after_grace;
  drained = drained && o.drained;
  window_s = std::max(window_s, o.window_s);
  send_span_s = std::max(send_span_s, o.send_span_s);
  e2e.Merge(o.e2e);
  ack.Merge(o.ack);
  lag.Merge(o.lag);
  if (o.cpu_start.wall_ns != 0) {
    cpu_start = o.cpu_start;
    cpu_end = o.cpu_end;
  }
}

MessageLoad::MessageLoad(asio::io_context& io, const BenchConfig& cfg, LoadMode mode,
                         LoadShare share, uint64_t seed)
    : io_(io),
      cfg_(cfg),
      mode_(mode),
      share_(std::move(share)),
      devices_(std::max<uint32_t>(cfg.devices, 1)),
      checker_(static_cast<uint32_t>(share_.users.size() * devices_)),
      rng_(seed) {
  size_t n = share_.users.size() * devices_;
  clients_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    clients_.push_back(std::make_unique<WsClient>(io_, this, static_cast<uint32_t>(i)));
  }
  has_hello_.assign(n, false);
  group_of_user_.assign(share_.users.size(), UINT32_MAX);
  for (uint32_t g = 0; g < share_.groups.size(); ++g) {
    for (uint32_t m : share_.groups[g].members) group_of_user_[m] = g;
  }
  order_.resize(n);
  for (uint32_t i = 0; i < n; ++i) order_[i] = i;
  std::shuffle(order_.begin(), order_.end(), rng_);
  pad_.assign(cfg_.body_size, 'x');
  frame_.reserve(cfg_.body_size + 256);
}

MessageLoad::~MessageLoad() = default;

asio::awaitable<Status> MessageLoad::Connect(const ServerTarget& target) {
  target_ = &target;
  connecting_ = true;
  next_to_connect_ = 0;
  handshakes_in_flight_ = 0;
  StartConnections();
  asio::steady_timer t(io_);
  int64_t deadline = NowNs() + static_cast<int64_t>(cfg_.setup_timeout_s * 1e9);
  while (hellos_ + connect_failures_ < clients_.size() && NowNs() < deadline) {
    co_await SleepUntilNs(t, NowNs() + 5'000'000);
  }
  connecting_ = false;
  if (connect_failures_ > 0) {
    co_return Status::Unavailable(std::to_string(connect_failures_) +
                                  " WebSocket connections failed, first: " + first_connect_error_);
  }
  if (hellos_ < clients_.size()) {
    co_return Status::Unavailable(std::to_string(clients_.size() - hellos_) +
                                  " WebSockets got no hello within the set-up timeout");
  }
  co_return Status::Ok();
}

void MessageLoad::StartConnections() {
  uint32_t limit = std::max<uint32_t>(cfg_.connect_concurrency, 1);
  while (connecting_ && handshakes_in_flight_ < limit && next_to_connect_ < clients_.size()) {
    size_t i = next_to_connect_++;
    ++handshakes_in_flight_;
    const BenchUser& u = share_.users[i / devices_];
    clients_[i]->Start(target_->server, target_->Source(share_.first_connection + i), u.token);
  }
}

void MessageLoad::OnOpen(WsClient&) {}

void MessageLoad::OnClosed(WsClient& c, const std::string& why) {
  if (!has_hello_[c.index()]) {
    ++connect_failures_;
    if (first_connect_error_.empty()) first_connect_error_ = why;
    --handshakes_in_flight_;
    StartConnections();
    return;
  }
  ++closed_during_run_;
  if (first_close_reason_.empty()) first_close_reason_ = why;
}

void MessageLoad::OnText(WsClient& c, std::string_view text) {
  int64_t now = NowNs();
  const json::object* o = json_.Parse(text);
  if (!o) {
    ++bad_frames_;
    return;
  }
  std::string_view type = StringField(*o, "type");
  if (type == "msg") {
    OnPush(c, *o, now);
  } else if (type == "ack") {
    OnAck(*o, now);
  } else if (type == "error") {
    OnError(*o);
  } else if (type == "hello") {
    if (!has_hello_[c.index()]) {
      has_hello_[c.index()] = true;
      ++hellos_;
      --handshakes_in_flight_;
      StartConnections();
    }
  } else if (type != "pong" && type != "read" && type != "sync") {
    ++bad_frames_;
  }
}

void MessageLoad::OnPush(WsClient& c, const json::object& o, int64_t now) {
  uint64_t index = 0;
  std::string_view id = StringField(o, "id");
  if (!ParseIndex(id, &index)) {
    ++bad_frames_;
    return;
  }
  // The body is "<index>.xxxx...": a cheap check that it came back whole.
  std::string_view body = StringField(o, "body");
  if (body.size() != cfg_.body_size || body.substr(0, id.size()) != id ||
      (body.size() > id.size() && body[id.size()] != '.')) {
    ++bad_frames_;
  }
  int64_t latency = checker_.OnDelivery(c.index(), index, ConvKey(StringField(o, "conv")),
                                        static_cast<uint64_t>(IntField(o, "seq")), now);
  if (latency < 0) return;
  ++deliveries_;
  if (stats_ && checker_.tag_of(index) == step_ && checker_.measured(index)) {
    stats_->e2e.Record(latency);
    if (in_grace_) ++stats_->measured_delivered;
  }
}

void MessageLoad::OnAck(const json::object& o, int64_t now) {
  uint64_t index = 0;
  if (!ParseIndex(StringField(o, "id"), &index)) {
    ++bad_frames_;
    return;
  }
  if (StringField(o, "msg_id").empty()) ++bad_frames_;
  int64_t latency = checker_.OnAck(index, ConvKey(StringField(o, "conv")),
                                   static_cast<uint64_t>(IntField(o, "seq")), now);
  if (latency < 0) return;
  ++acks_;
  if (stats_ && checker_.tag_of(index) == step_ && checker_.measured(index)) {
    stats_->ack.Record(latency);
    if (in_grace_) ++stats_->measured_acked;
  }
}

void MessageLoad::OnError(const json::object& o) {
  // The error path may allocate: it is not the hot path.
  std::string key(StringField(o, "code"));
  std::string_view msg = StringField(o, "message");
  if (!msg.empty()) key += " (" + std::string(msg) + ")";
  ++errors_[key];
  uint64_t index = 0;
  if (ParseIndex(StringField(o, "id"), &index)) checker_.OnRefused(index);
  if (stats_) ++stats_->refused;
}

void MessageLoad::SendOne(int64_t now, bool measured) {
  uint32_t c = order_[order_pos_];
  if (++order_pos_ == order_.size()) {
    std::shuffle(order_.begin(), order_.end(), rng_);
    order_pos_ = 0;
  }
  WsClient& client = *clients_[c];
  if (!client.open()) {
    ++stats_->skipped_closed;
    return;
  }
  uint32_t u = c / devices_;
  const BenchUser& sender = share_.users[u];
  uint64_t conv;
  uint32_t expected;
  uint64_t to;
  const char* to_field;
  if (mode_ == LoadMode::kGroup) {
    const BenchGroup& g = share_.groups[group_of_user_[u]];
    conv = GroupConvKey(g.group_id);
    to = g.group_id;
    to_field = "\",\"to_group\":";
    expected = static_cast<uint32_t>(g.members.size() - 1) * devices_ + (devices_ - 1);
  } else {
    size_t n = share_.users.size();
    size_t v = static_cast<size_t>(rng_() % (n - 1));
    if (v >= u) ++v;
    to = share_.users[v].user_id;
    conv = PrivateConvKey(sender.user_id, to);
    to_field = "\",\"to_user\":";
    expected = devices_ + (devices_ - 1);
  }
  uint64_t index = checker_.OnSend(now, conv, c, static_cast<uint16_t>(expected), step_, measured);
  if (measured) {
    ++stats_->measured_sends;
    stats_->measured_expected += expected;
  }
  char id[24];
  size_t id_len = static_cast<size_t>(std::to_chars(id, id + sizeof id, index).ptr - id);
  frame_.clear();
  frame_ += "{\"type\":\"send\",\"id\":\"";
  frame_.append(id, id_len);
  frame_ += to_field;
  AppendUint(frame_, to);
  frame_ += ",\"body\":\"";
  frame_.append(id, id_len);
  frame_ += '.';
  if (cfg_.body_size > id_len + 1) frame_.append(pad_, 0, cfg_.body_size - id_len - 1);
  frame_ += "\"}";
  client.SendText(frame_);
}

asio::awaitable<StepStats> MessageLoad::RunStep(double rate, uint16_t step, bool sample_cpu) {
  StepStats st;
  st.offered_rate = rate;
  st.window_s = cfg_.duration_s;
  step_ = step;
  stats_ = &st;
  in_grace_ = true;
  asio::steady_timer timer(io_);

  const double period_ns = 1e9 / rate;
  const uint64_t total = static_cast<uint64_t>(rate * (cfg_.warmup_s + cfg_.duration_s));
  const uint64_t first_measured = static_cast<uint64_t>(std::ceil(rate * cfg_.warmup_s));
  const int64_t tick_ns = int64_t{cfg_.tick_us} * 1000;
  checker_.Reserve(total + 16);

  const int64_t start = NowNs();
  const int64_t window_start = start + static_cast<int64_t>(cfg_.warmup_s * 1e9);
  bool sampled = false;
  uint64_t acks_at_start = 0, deliveries_at_start = 0;
  int64_t last_measured_send = window_start;
  uint64_t k = 0;
  while (k < total) {
    int64_t now = NowNs();
    if (!sampled && now >= window_start) {
      if (sample_cpu) st.cpu_start = SampleCpu(cfg_.server_pid);
      acks_at_start = acks_;
      deliveries_at_start = deliveries_;
      sampled = true;
    }
    uint64_t due = std::min<uint64_t>(
        total, static_cast<uint64_t>(static_cast<double>(now - start) / period_ns) + 1);
    for (; k < due; ++k) {
      bool measured = k >= first_measured;
      if (measured) {
        st.lag.Record(now - (start + static_cast<int64_t>(static_cast<double>(k) * period_ns)));
        last_measured_send = now;
      }
      SendOne(now, measured);
    }
    if (k >= total) break;
    int64_t next = start + static_cast<int64_t>(static_cast<double>(k) * period_ns);
    co_await SleepUntilNs(timer, std::max(next, now + tick_ns));
  }
  if (!sampled) {
    if (sample_cpu) st.cpu_start = SampleCpu(cfg_.server_pid);
    acks_at_start = acks_;
    deliveries_at_start = deliveries_;
  }
  if (sample_cpu) st.cpu_end = SampleCpu(cfg_.server_pid);
  st.window_acks = acks_ - acks_at_start;
  st.window_deliveries = deliveries_ - deliveries_at_start;
  st.send_span_s = static_cast<double>(last_measured_send - window_start) / 1e9;

  // Grace: stragglers still count; then what is missing makes the step fail.
  int64_t grace_end = NowNs() + static_cast<int64_t>(cfg_.grace_s * 1e9);
  while (checker_.outstanding() > 0 && NowNs() < grace_end) {
    co_await SleepUntilNs(timer, std::min(grace_end, NowNs() + 2'000'000));
  }
  st.outstanding_after_grace = checker_.outstanding();
  // Drain: the next step must start from empty queues; what never comes is
  // lost. Late arrivals still go into the latency histograms (an overloaded
  // step shows its true latency), not into the delivered rate.
  in_grace_ = false;
  int64_t drain_end = NowNs() + static_cast<int64_t>(cfg_.drain_timeout_s * 1e9);
  while (checker_.outstanding() > 0 && NowNs() < drain_end) {
    co_await SleepUntilNs(timer, std::min(drain_end, NowNs() + 10'000'000));
  }
  st.drained = checker_.outstanding() == 0;
  stats_ = nullptr;
  co_return st;
}

asio::awaitable<void> MessageLoad::Hold(double seconds) {
  asio::steady_timer t(io_);
  co_await SleepUntilNs(t, NowNs() + static_cast<int64_t>(seconds * 1e9));
}

}  // namespace parley::bench

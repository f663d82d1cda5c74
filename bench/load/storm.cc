#include "load/storm.h"

#include <chrono>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "load/delivery_checker.h"
#include "load/http_client.h"
#include "load/process_stats.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

asio::awaitable<void> SleepMs(asio::io_context& io, int ms) {
  asio::steady_timer t(io, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

StormLoad::StormLoad(asio::io_context& io, const BenchConfig& cfg, std::vector<BenchUser> users)
    : io_(io), cfg_(cfg), users_(std::move(users)), devices_(std::max<uint32_t>(cfg.devices, 1)) {
  size_t n = users_.size() * devices_;
  for (size_t i = 0; i < n; ++i) {
    clients_.push_back(std::make_unique<WsClient>(io_, this, static_cast<uint32_t>(i)));
  }
  state_.resize(n);
  expected_.resize(users_.size());
  result_.clients = static_cast<uint32_t>(n);
}

StormLoad::~StormLoad() = default;

void StormLoad::StartConnections() {
  // The first connection is bounded like any set-up; the storm is not.
  size_t limit =
      phase_ == Phase::kStorm ? clients_.size() : std::max<uint32_t>(cfg_.connect_concurrency, 1);
  while (in_flight_ < limit && next_to_connect_ < clients_.size()) {
    size_t i = next_to_connect_++;
    ++in_flight_;
    clients_[i]->Start(target_->server, target_->Source(i), users_[i / devices_].token);
  }
}

asio::awaitable<StatusOr<StormResult>> StormLoad::Run(const ServerTarget& target) {
  target_ = &target;
  const int64_t timeout_ns = static_cast<int64_t>(cfg_.setup_timeout_s * 1e9);

  // 1. Everyone online.
  phase_ = Phase::kConnecting;
  StartConnections();
  int64_t deadline = NowNs() + timeout_ns;
  while (hellos_ + result_.failures < clients_.size() && NowNs() < deadline) {
    co_await SleepMs(io_, 5);
  }
  if (hellos_ < clients_.size()) {
    co_return Status::Unavailable(
        "initial connections failed: " + std::to_string(clients_.size() - hellos_) +
        ", first: " + result_.first_failure);
  }

  // 2. Everyone gone at once.
  phase_ = Phase::kAway;
  for (auto& c : clients_) c->Drop();

  // 3. Messages they will have to catch up on, acked over HTTP.
  size_t n = static_cast<size_t>(cfg_.messages_per_user) * users_.size();
  std::mt19937_64 rng(42);
  std::vector<uint32_t> targets(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t from = static_cast<uint32_t>(i % users_.size());
    uint32_t to = static_cast<uint32_t>(rng() % (users_.size() - 1));
    targets[i] = to >= from ? to + 1 : to;
  }
  std::string body(cfg_.body_size, 'y');
  int64_t send_start = NowNs();
  Status s = co_await ForEachBounded(
      target, cfg_.http_concurrency, n,
      [&](size_t i, HttpConnection& conn) -> asio::awaitable<Status> {
        uint32_t from = static_cast<uint32_t>(i % users_.size());
        uint32_t to = targets[i];
        json::object req;
        req["id"] = "storm" + std::to_string(i);
        req["to_user"] = users_[to].user_id;
        req["body"] = body;
        auto r = co_await conn.Call(http::verb::post, "/api/v1/messages", json::serialize(req),
                                    users_[from].token);
        if (!r.ok()) co_return Status(r.status().code(), "send: " + r.status().message());
        uint64_t conv = ConvKey(StringField(*r, "conv"));
        uint64_t seq = static_cast<uint64_t>(IntField(*r, "seq"));
        if (conv != PrivateConvKey(users_[from].user_id, users_[to].user_id) || seq == 0) {
          co_return Status::Internal("send reply with wrong conv or seq");
        }
        for (uint32_t u : {from, to}) {
          uint64_t& e = expected_[u][conv];
          e = std::max(e, seq);
        }
        co_return Status::Ok();
      });
  if (!s.ok()) co_return s;
  result_.offline_messages = n;
  result_.offline_send_s = static_cast<double>(NowNs() - send_start) / 1e9;
  for (size_t c = 0; c < clients_.size(); ++c) {
    expected_[c / devices_].ForEach([&](uint64_t conv, uint64_t seq) {
      const uint64_t* known = state_[c].known.Find(conv);
      result_.expected += seq - (known ? *known : 0);
    });
  }

  // 4. Everyone back at once.
  phase_ = Phase::kStorm;
  hellos_ = 0;
  in_flight_ = 0;
  next_to_connect_ = 0;
  for (auto& st : state_) {
    st.hello = false;
    st.pending_syncs = 0;
  }
  storm_start_ = NowNs();
  StartConnections();
  deadline = NowNs() + timeout_ns;
  while (caught_up_ + result_.failures < clients_.size() && NowNs() < deadline) {
    co_await SleepMs(io_, 1);
  }
  phase_ = Phase::kDone;
  result_.catch_up_s = static_cast<double>(last_caught_up_ - storm_start_) / 1e9;

  // 5. Did every client get every acked seq?
  for (size_t c = 0; c < clients_.size(); ++c) {
    if (!state_[c].caught_up) ++result_.not_caught_up;
    expected_[c / devices_].ForEach([&](uint64_t conv, uint64_t seq) {
      const uint64_t* known = state_[c].known.Find(conv);
      uint64_t have = known ? *known : 0;
      if (have < seq) result_.lost += seq - have;
    });
  }
  for (auto& c : clients_) c->Drop();
  co_return result_;
}

void StormLoad::OnOpen(WsClient&) {}

void StormLoad::OnClosed(WsClient& c, const std::string& why) {
  if (phase_ == Phase::kAway || phase_ == Phase::kDone) return;
  if (!state_[c.index()].hello) {
    --in_flight_;
    StartConnections();
  }
  ++result_.failures;
  if (result_.first_failure.empty()) result_.first_failure = why;
}

void StormLoad::OnText(WsClient& c, std::string_view text) {
  int64_t now = NowNs();
  const json::object* o = json_.Parse(text);
  if (!o) return;
  std::string_view type = StringField(*o, "type");
  if (type == "hello") {
    OnHello(c, *o, now);
  } else if (type == "sync") {
    OnSync(c, *o, now);
  } else if (type == "error") {
    // A refused sync leaves the client behind: say why.
    ++result_.errors;
    if (result_.first_failure.empty()) {
      result_.first_failure = "error frame: " + std::string(StringField(*o, "code")) + " " +
                              std::string(StringField(*o, "message"));
    }
  }
}

void StormLoad::OnHello(WsClient& c, const json::object& o, int64_t now) {
  ClientState& st = state_[c.index()];
  if (st.hello) return;
  st.hello = true;
  ++hellos_;
  --in_flight_;
  StartConnections();
  if (phase_ == Phase::kStorm) result_.hello.Record(now - storm_start_);
  const json::value* convs = o.if_contains("convs");
  if (convs && convs->is_array()) {
    for (const json::value& v : convs->get_array()) {
      if (!v.is_object()) continue;
      std::string_view conv = StringField(v.get_object(), "conv");
      uint64_t last = static_cast<uint64_t>(IntField(v.get_object(), "last_seq"));
      uint64_t key = ConvKey(conv);
      if (key == 0) continue;
      if (phase_ == Phase::kConnecting) {
        // What was there before the storm counts as held.
        st.known[key] = last;
      } else if (last > st.known[key]) {
        RequestSync(c, conv, st.known[key]);
      }
    }
  }
  if (phase_ == Phase::kStorm && st.pending_syncs == 0) MarkCaughtUp(c.index(), now);
}

void StormLoad::RequestSync(WsClient& c, std::string_view conv, uint64_t after) {
  json::object req;
  req["type"] = "sync";
  req["conv"] = conv;
  req["after_seq"] = after;
  req["limit"] = 200;
  c.SendText(json::serialize(req));
  ++state_[c.index()].pending_syncs;
  ++result_.syncs;
}

void StormLoad::OnSync(WsClient& c, const json::object& o, int64_t now) {
  ClientState& st = state_[c.index()];
  std::string_view conv = StringField(o, "conv");
  uint64_t key = ConvKey(conv);
  uint64_t& known = st.known[key];
  const json::value* msgs = o.if_contains("messages");
  if (msgs && msgs->is_array()) {
    for (const json::value& m : msgs->get_array()) {
      if (!m.is_object()) continue;
      uint64_t seq = static_cast<uint64_t>(IntField(m.get_object(), "seq"));
      if (seq <= known) {
        ++result_.duplicated;
      } else {
        if (seq != known + 1) ++result_.out_of_order;  // a hole: sync must be contiguous
        known = seq;
        ++result_.synced;
      }
    }
  }
  const json::value* more = o.if_contains("has_more");
  if (more && more->is_bool() && more->get_bool()) {
    --st.pending_syncs;
    RequestSync(c, conv, known);
    return;
  }
  if (st.pending_syncs > 0 && --st.pending_syncs == 0 && st.hello && phase_ == Phase::kStorm) {
    MarkCaughtUp(c.index(), now);
  }
}

void StormLoad::MarkCaughtUp(uint32_t client, int64_t now) {
  ClientState& st = state_[client];
  if (st.caught_up) return;
  st.caught_up = true;
  ++caught_up_;
  last_caught_up_ = now;
  result_.per_client.Record(now - storm_start_);
}

}  // namespace parley::bench

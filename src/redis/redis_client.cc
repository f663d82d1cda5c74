#include "redis/redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "redis/hiredis_asio_adapter.h"

namespace parley::redis {

using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxRememberedScripts = 256;

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

}  // namespace

StatusOr<ClientOptions> ParseAddress(std::string_view address) {
  std::string_view host, port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return Status::InvalidArgument("redis address: expected [ipv6]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("redis address: expected host:port");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("redis address: write an IPv6 host as [addr]:port");
    }
  }
  if (host.empty()) return Status::InvalidArgument("redis address: empty host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return Status::InvalidArgument("redis address: bad port");
  }
  ClientOptions options;
  options.host = std::string(host);
  options.port = static_cast<uint16_t>(value);
  return options;
}

Script::Script(std::string lua) {
  auto text = std::make_shared<Text>();
  text->body = std::move(lua);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text->body.data()), text->body.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  text->sha1.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    text->sha1.push_back(kHex[b >> 4]);
    text->sha1.push_back(kHex[b & 15]);
  }
  text_ = std::move(text);
}

// Everything below runs on strand_. hiredis owns each in-flight command's
// Pending (its privdata) and hands it back exactly once: with the reply, or
// with NULL when the context is freed.
class RedisClient::Core : public std::enable_shared_from_this<RedisClient::Core> {
  using Strand = internal::Strand;

 public:
  Core(boost::asio::any_io_executor ex, ClientOptions options)
      : strand_(boost::asio::make_strand(ex)),
        options_(std::move(options)),
        reconnect_timer_(strand_),
        connect_timer_(strand_),
        timeout_timer_(strand_),
        backoff_ms_(std::max<uint32_t>(1, options_.reconnect_min_ms)) {}

  template <typename F>
  void Post(F&& f) {
    boost::asio::post(strand_, std::forward<F>(f));
  }

  void Start() { Connect(); }

  // Sends `args` (not consumed: an Eval resends them on NOSCRIPT).
  void Issue(const std::vector<std::string>& args, Callback<StatusOr<Reply>> done) {
    if (Status s = CanIssue(1); !s.ok()) {
      done(std::move(s));
      return;
    }
    Send(args, std::move(done));
  }

  void IssuePipeline(std::vector<std::vector<std::string>> commands,
                     Callback<StatusOr<std::vector<Reply>>> done) {
    if (commands.empty()) {
      done(std::vector<Reply>{});
      return;
    }
    if (Status s = CanIssue(commands.size()); !s.ok()) {
      done(std::move(s));
      return;
    }
    struct Gather {
      std::vector<Reply> replies;
      size_t remaining;
      Status error;
      Callback<StatusOr<std::vector<Reply>>> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->replies.resize(commands.size());
    gather->remaining = commands.size();
    gather->done = std::move(done);
    for (size_t i = 0; i < commands.size(); ++i) {
      Send(commands[i], [gather, i](StatusOr<Reply> r) {
        if (r.ok()) {
          gather->replies[i] = std::move(r).value();
        } else if (gather->error.ok()) {
          gather->error = r.status();
        }
        if (--gather->remaining == 0) {
          if (gather->error.ok()) {
            gather->done(std::move(gather->replies));
          } else {
            gather->done(std::move(gather->error));
          }
        }
      });
    }
  }

  void IssueEval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                 Callback<StatusOr<Reply>> done) {
    // A script new to the connection is loaded first, in line: an EVALSHA
    // that found no script would be re-sent behind the commands issued
    // after it. Beyond the scripts remembered, EVAL sends the body.
    const ScriptState state = RememberScript(script);
    auto cmd = std::make_shared<std::vector<std::string>>();
    cmd->reserve(3 + keys.size() + args.size());
    cmd->push_back(state == ScriptState::kUnremembered ? "EVAL" : "EVALSHA");
    cmd->push_back(state == ScriptState::kUnremembered ? script.body() : script.sha1());
    cmd->push_back(std::to_string(keys.size()));
    for (auto& k : keys) cmd->push_back(std::move(k));
    for (auto& a : args) cmd->push_back(std::move(a));
    if (Status s = CanIssue(2); !s.ok()) {
      done(std::move(s));
      return;
    }
    if (state == ScriptState::kNew) Send({"SCRIPT", "LOAD", script.body()}, [](StatusOr<Reply>) {});
    Send(*cmd, [self = shared_from_this(), cmd, script,
                done = std::move(done)](StatusOr<Reply> r) mutable {
      if (r.ok() && r->is_error() && r->str.starts_with("NOSCRIPT")) {
        (*cmd)[0] = "EVAL";
        (*cmd)[1] = script.body();
        self->Issue(*cmd, std::move(done));
        return;
      }
      done(std::move(r));
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    reconnect_timer_.cancel();
    connect_timer_.cancel();
    timeout_timer_.cancel();
    if (ac_) Drop("redis: client closed");
  }

 private:
  enum class State { kWaiting, kConnecting, kConnected };

  struct Pending {
    Callback<StatusOr<Reply>> done;
    SteadyClock::time_point deadline;
    const char* failure = "redis: connection lost";
  };

  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
    if (auto* core = static_cast<Core*>(ac->data)) core->Forget(p.get());
    if (reply == nullptr) {
      p->done(Status::Unavailable(p->failure));
      return;
    }
    p->done(Convert(static_cast<redisReply*>(reply)));
  }

  static void OnConnect(const redisAsyncContext* ac, int status) {
    if (auto* core = static_cast<Core*>(ac->data)) core->Connected(status == REDIS_OK);
  }

  static void OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
    if (auto* core = static_cast<Core*>(ac->data)) core->Disconnected();
  }

  Status CanIssue(size_t n) const {
    if (closed_) return Status::Unavailable("redis: client closed");
    if (state_ == State::kWaiting || !ac_) return Status::Unavailable("redis: not connected");
    if (in_flight_.size() + n > options_.max_pending) {
      return Status::Unavailable("redis: too many commands pending");
    }
    return Status::Ok();
  }

  void Send(const std::vector<std::string>& args, Callback<StatusOr<Reply>> done) {
    // Small commands (the common case) format from the stack.
    constexpr size_t kInline = 16;
    const char* argv_inline[kInline];
    size_t len_inline[kInline];
    std::vector<const char*> argv_heap;
    std::vector<size_t> len_heap;
    const char** argv = argv_inline;
    size_t* lens = len_inline;
    if (args.size() > kInline) {
      argv_heap.resize(args.size());
      len_heap.resize(args.size());
      argv = argv_heap.data();
      lens = len_heap.data();
    }
    for (size_t i = 0; i < args.size(); ++i) {
      argv[i] = args[i].data();
      lens[i] = args[i].size();
    }
    auto p = std::make_unique<Pending>();
    p->deadline = SteadyClock::now() + std::chrono::milliseconds(options_.command_timeout_ms);
    p->done = std::move(done);
    if (args.empty() || redisAsyncCommandArgv(ac_, OnReply, p.get(), static_cast<int>(args.size()),
                                              argv, lens) != REDIS_OK) {
      p->done(Status::Unavailable(args.empty() ? "redis: empty command"
                                               : "redis: connection is closing"));
      return;
    }
    in_flight_.push_back(p.release());
    if (!timeout_armed_) ArmTimeout(in_flight_.front()->deadline);
  }

  void Forget(Pending* p) {
    if (!in_flight_.empty() && in_flight_.front() == p) {
      in_flight_.pop_front();
      return;
    }
    auto it = std::find(in_flight_.begin(), in_flight_.end(), p);
    if (it != in_flight_.end()) in_flight_.erase(it);
  }

  enum class ScriptState { kKnown, kNew, kUnremembered };
  ScriptState RememberScript(const Script& script) {
    if (scripts_.contains(script.sha1())) return ScriptState::kKnown;
    if (scripts_.size() >= kMaxRememberedScripts) return ScriptState::kUnremembered;
    scripts_.emplace(script.sha1(), script.body());
    return ScriptState::kNew;
  }

  void Connect() {
    if (closed_) return;
    redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
    if (ac == nullptr) {
      ScheduleReconnect();
      return;
    }
    if (ac->err || !internal::AttachAsioAdapter(ac, strand_)) {
      redisAsyncFree(ac);
      ScheduleReconnect();
      return;
    }
    ac->data = this;
    ac_ = ac;
    state_ = State::kConnecting;
    redisAsyncSetConnectCallback(ac, OnConnect);
    redisAsyncSetDisconnectCallback(ac, OnDisconnect);
    connect_timer_.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
    connect_timer_.async_wait([self = shared_from_this(), ac](const boost::system::error_code& ec) {
      if (ec || self->ac_ != ac || self->state_ != State::kConnecting) return;
      self->Drop("redis: connect timed out");
    });
    // Queued ahead of every caller's command, so they run first.
    if (!options_.password.empty()) {
      Send({"AUTH", options_.password}, [self = shared_from_this(), ac](StatusOr<Reply> r) {
        if (r.ok() && r->is_error() && self->ac_ == ac) self->Drop("redis: AUTH failed");
      });
    }
    for (const auto& [sha, body] : scripts_) {
      Send({"SCRIPT", "LOAD", body}, [](StatusOr<Reply>) {});
    }
  }

  void Connected(bool ok) {
    if (!ok) {
      // hiredis frees the context when this returns; what was queued gets
      // NULL replies then.
      DetachContext("redis: connect failed");
      ScheduleReconnect();
      return;
    }
    state_ = State::kConnected;
    connect_timer_.cancel();
    backoff_ms_ = std::max<uint32_t>(1, options_.reconnect_min_ms);
  }

  void Disconnected() {
    DetachContext("redis: connection lost");
    ScheduleReconnect();
  }

  // Forgets the context (hiredis frees it) and sets what its in-flight
  // commands fail with.
  void DetachContext(const char* failure) {
    for (Pending* p : in_flight_) {
      if (p->deadline > SteadyClock::now()) p->failure = failure;
    }
    in_flight_.clear();
    if (ac_) ac_->data = nullptr;
    ac_ = nullptr;
    state_ = State::kWaiting;
    connect_timer_.cancel();
  }

  // Frees the context ourselves: in-flight commands fail with `failure`.
  void Drop(const char* failure) {
    redisAsyncContext* ac = ac_;
    DetachContext(failure);
    redisAsyncFree(ac);
    ScheduleReconnect();
  }

  void ScheduleReconnect() {
    state_ = State::kWaiting;
    if (closed_) return;
    reconnect_timer_.expires_after(std::chrono::milliseconds(backoff_ms_));
    backoff_ms_ = std::min(backoff_ms_ * 2, std::max(1u, options_.reconnect_max_ms));
    reconnect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && !self->ac_) self->Connect();
    });
  }

  void ArmTimeout(SteadyClock::time_point at) {
    timeout_armed_ = true;
    timeout_timer_.expires_at(at);
    timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->timeout_armed_ = false;
      if (ec) return;
      self->CheckTimeouts();
    });
  }

  void CheckTimeouts() {
    if (in_flight_.empty() || !ac_) return;
    const auto now = SteadyClock::now();
    if (in_flight_.front()->deadline > now) {
      ArmTimeout(in_flight_.front()->deadline);
      return;
    }
    for (Pending* p : in_flight_) {
      if (p->deadline <= now) p->failure = "redis: command timed out";
    }
    Drop("redis: connection dropped after a command timed out");
  }

  Strand strand_;
  const ClientOptions options_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer timeout_timer_;
  redisAsyncContext* ac_ = nullptr;
  State state_ = State::kWaiting;
  bool closed_ = false;
  bool timeout_armed_ = false;
  uint32_t backoff_ms_;
  std::deque<Pending*> in_flight_;  // owned by hiredis (privdata); in issue order
  std::unordered_map<std::string, std::string> scripts_;  // sha1 -> body, reloaded on connect
};

std::shared_ptr<RedisClient> RedisClient::Create(boost::asio::any_io_executor ex,
                                                 ClientOptions options) {
  auto core = std::make_shared<Core>(std::move(ex), std::move(options));
  core->Post([core] { core->Start(); });
  return std::shared_ptr<RedisClient>(new RedisClient(std::move(core)));
}

RedisClient::RedisClient(std::shared_ptr<Core> core) : core_(std::move(core)) {}

RedisClient::~RedisClient() { Close(); }

void RedisClient::Command(std::vector<std::string> args, Callback<StatusOr<Reply>> done) {
  core_->Post([core = core_, args = std::move(args), done = std::move(done)]() mutable {
    core->Issue(args, std::move(done));
  });
}

void RedisClient::Pipeline(std::vector<std::vector<std::string>> commands,
                           Callback<StatusOr<std::vector<Reply>>> done) {
  core_->Post([core = core_, commands = std::move(commands), done = std::move(done)]() mutable {
    core->IssuePipeline(std::move(commands), std::move(done));
  });
}

void RedisClient::Eval(const Script& script, std::vector<std::string> keys,
                       std::vector<std::string> args, Callback<StatusOr<Reply>> done) {
  // A copy of a Script shares its text; the caller's may not outlive the post.
  core_->Post([core = core_, script, keys = std::move(keys), args = std::move(args),
               done = std::move(done)]() mutable {
    core->IssueEval(script, std::move(keys), std::move(args), std::move(done));
  });
}

void RedisClient::Ping(Callback<Status> done) {
  Command({"PING"}, [done = std::move(done)](StatusOr<Reply> r) {
    if (!r.ok()) return done(r.status());
    if (r->is_error()) return done(Status::Unavailable("redis: " + r->str));
    done(Status::Ok());
  });
}

void RedisClient::Close() {
  core_->Post([core = core_] { core->Close(); });
}

}  // namespace parley::redis

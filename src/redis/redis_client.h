// RedisClient: an asynchronous Redis client over one hiredis connection,
// driven by Boost.Asio.
//
// Commands are pipelined on the one connection: replies come back in the
// order the commands were issued, and commands issued from one thread (or
// one strand) are sent in that order.
//
// Connection: Create() connects in the background. While connecting, commands
// are queued (bounded by ClientOptions::max_pending) and sent once connected;
// when the connection drops, a command times out, or Redis restarts, every
// command in flight fails with UNAVAILABLE and the client reconnects by
// itself with exponential backoff. While it waits to reconnect, commands fail
// at once with UNAVAILABLE: nothing is queued for a Redis that is down.
// A command in flight longer than command_timeout_ms counts as a lost
// connection: the connection is dropped (failing everything in flight) and
// made again, so a hung server never stalls callers for longer than that.
//
// Blocking commands (XREADGROUP ... BLOCK, BLPOP) hold the connection until
// they return: give them a RedisClient of their own, and keep their block
// time below command_timeout_ms.
//
// Scripts: Eval() uses EVALSHA and falls back to EVAL on NOSCRIPT. A script
// is loaded (SCRIPT LOAD, in line) before its first EVALSHA, and the scripts
// a client has run (up to 256; beyond, Eval sends EVAL with the body) are
// loaded again first thing after every reconnect, so neither a first use nor
// a restarted Redis reorders a stream of Evals; only a SCRIPT FLUSH while
// Evals are in flight can (each NOSCRIPT is re-sent as EVAL, behind the
// commands issued after it).
//
// Thread safety: every method may be called from any thread. Callbacks run on
// the client's strand (over the executor given to Create), one at a time;
// they may issue more commands. Lifetime: callbacks already issued keep the
// connection's state alive; Close(), or destroying the RedisClient, closes
// the connection and fails what is in flight with UNAVAILABLE.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/callback.h"
#include "common/status.h"

namespace parley::redis {

struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

struct ClientOptions {
  std::string host = "127.0.0.1";  // resolved (getaddrinfo) at each connect
  uint16_t port = 6379;
  std::string password;  // AUTH after connecting, when not empty
  uint32_t connect_timeout_ms = 2000;
  uint32_t command_timeout_ms = 5000;
  // Commands in flight or queued while connecting; beyond it a command fails
  // with UNAVAILABLE at once.
  uint32_t max_pending = 100'000;
  // Reconnect backoff: doubles from min to max after each failed attempt.
  uint32_t reconnect_min_ms = 50;
  uint32_t reconnect_max_ms = 2000;
};

// Parses "host:port" ("127.0.0.1:6379", "[::1]:6379", "redis.local:6379")
// into ClientOptions' host and port; the other fields keep their defaults.
StatusOr<ClientOptions> ParseAddress(std::string_view address);

// A Lua script and its SHA-1 (for EVALSHA). Immutable; copies share the
// text, so a copy is cheap.
class Script {
 public:
  explicit Script(std::string lua);
  const std::string& sha1() const { return text_->sha1; }
  const std::string& body() const { return text_->body; }

 private:
  struct Text {
    std::string body;
    std::string sha1;  // lowercase hex
  };
  std::shared_ptr<const Text> text_;
};

class RedisClient : public std::enable_shared_from_this<RedisClient> {
 public:
  // Starts connecting to options.host:port in the background.
  static std::shared_ptr<RedisClient> Create(boost::asio::any_io_executor ex,
                                             ClientOptions options);
  ~RedisClient();  // Close()
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Binary-safe args. `done` gets the reply (a Redis error reply is a Reply
  // of kError, not a failed status) or UNAVAILABLE when the connection is
  // down or the command timed out. Commands issued from one strand keep
  // their order (one connection, pipelined).
  void Command(std::vector<std::string> args, Callback<StatusOr<Reply>> done);
  // Several commands in one round trip; one reply per command, in order.
  // UNAVAILABLE if any of them did not get a reply.
  void Pipeline(std::vector<std::vector<std::string>> commands,
                Callback<StatusOr<std::vector<Reply>>> done);
  // EVALSHA, falling back to EVAL on NOSCRIPT (after a Redis restart).
  void Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Callback<StatusOr<Reply>> done);
  // PING: OK once Redis answers PONG. For /readyz.
  void Ping(Callback<Status> done);
  // Closes the connection for good: what is in flight fails with
  // UNAVAILABLE, later commands too. Idempotent.
  void Close();

  class Core;  // the connection's state, on the strand (redis_client.cc)

 private:
  explicit RedisClient(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace parley::redis

#include "presence/redis/redis_presence.h"

#include <charconv>

namespace parley::presence {

namespace {

// KEYS: user hash, node index. ARGV: field, member, max connections.
const char kAddLua[] = R"(
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '1')
redis.call('SADD', KEYS[2], ARGV[2])
return 1
)";

// KEYS: user hash, node index. ARGV: field, member.
const char kRemoveLua[] = R"(
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
)";

// KEYS: a partition's index of the node. ARGV: the partition's user key
// prefix, node id, epoch. The user hashes it edits share the index's hash
// tag (same slot). Epochs are decimal without leading zeros: compared by
// length first, exact beyond 2^53.
const char kRemoveNodeLua[] = R"(
local function at_most(a, b)
  if #a ~= #b then return #a < #b end
  return a <= b
end
local removed = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local user, epoch, conn = string.match(m, '^(%d+)|(%d+)|(%d+)$')
  if epoch and at_most(epoch, ARGV[3]) then
    redis.call('HDEL', ARGV[1] .. user, ARGV[2] .. '|' .. epoch .. '|' .. conn)
    redis.call('SREM', KEYS[1], m)
    removed = removed + 1
  end
end
return removed
)";

std::string Field(const Connection& c) {
  return c.node_id + '|' + std::to_string(c.node_epoch) + '|' + std::to_string(c.conn_id);
}
std::string Member(const Connection& c) {
  return std::to_string(c.user_id) + '|' + std::to_string(c.node_epoch) + '|' +
         std::to_string(c.conn_id);
}

bool ParseU64(std::string_view s, uint64_t* v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// "<node>|<epoch>|<conn>", read from the right (a node id may hold '|').
bool ParseField(uint64_t user, const std::string& f, Connection* c) {
  size_t b2 = f.rfind('|');
  if (b2 == std::string::npos || b2 == 0) return false;
  size_t b1 = f.rfind('|', b2 - 1);
  if (b1 == std::string::npos || b1 == 0) return false;
  c->user_id = user;
  c->node_id = f.substr(0, b1);
  return ParseU64(std::string_view(f).substr(b1 + 1, b2 - b1 - 1), &c->node_epoch) &&
         ParseU64(std::string_view(f).substr(b2 + 1), &c->conn_id);
}

Status StatusOf(const StatusOr<redis::Reply>& r) {
  if (!r.ok()) return r.status();
  if (r->is_error()) return Status::Internal("redis: " + r->str);
  return Status::Ok();
}

}  // namespace

Status Validate(const RedisPresenceOptions& o) {
  if (o.key_prefix.empty() || o.key_prefix.size() > 64) {
    return Status::InvalidArgument("presence option key_prefix is out of range");
  }
  if (o.partitions == 0 || o.partitions > 1024) {
    return Status::InvalidArgument("presence option partitions is out of range");
  }
  if (o.max_connections_per_user == 0) {
    return Status::InvalidArgument("presence option max_connections_per_user is out of range");
  }
  if (o.max_lookup_users == 0) {
    return Status::InvalidArgument("presence option max_lookup_users is out of range");
  }
  if (o.max_node_id_bytes == 0) {
    return Status::InvalidArgument("presence option max_node_id_bytes is out of range");
  }
  return Status::Ok();
}

RedisPresence::RedisPresence(std::shared_ptr<redis::RedisClient> client,
                             RedisPresenceOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      add_script_(kAddLua),
      remove_script_(kRemoveLua) {}

uint32_t RedisPresence::PartitionOf(uint64_t user) const {
  return static_cast<uint32_t>(user % options_.partitions);
}
std::string RedisPresence::Tag(uint32_t p) const {
  return options_.key_prefix + ":{pr" + std::to_string(p) + "}:presence:";
}
std::string RedisPresence::UserKey(uint64_t user) const {
  return Tag(PartitionOf(user)) + "user:" + std::to_string(user);
}
std::string RedisPresence::NodeKey(uint32_t p, const std::string& node) const {
  return Tag(p) + "node:" + node;
}
Status RedisPresence::CheckNode(const std::string& node) const {
  if (node.empty() || node.size() > options_.max_node_id_bytes) {
    return Status::InvalidArgument("node id must be 1 to max_node_id_bytes bytes");
  }
  return Status::Ok();
}

void RedisPresence::Add(Connection conn, Callback<Status> done) {
  if (Status s = CheckNode(conn.node_id); !s.ok()) return done(s);
  client_->Eval(add_script_,
                {UserKey(conn.user_id), NodeKey(PartitionOf(conn.user_id), conn.node_id)},
                {Field(conn), Member(conn), std::to_string(options_.max_connections_per_user)},
                [done = std::move(done)](StatusOr<redis::Reply> r) {
                  if (Status s = StatusOf(r); !s.ok()) return done(s);
                  if (r->integer == 0) {
                    return done(Status::RateLimited("too many connections for this user"));
                  }
                  done(Status::Ok());
                });
}

void RedisPresence::Remove(Connection conn, Callback<Status> done) {
  if (Status s = CheckNode(conn.node_id); !s.ok()) return done(s);
  client_->Eval(remove_script_,
                {UserKey(conn.user_id), NodeKey(PartitionOf(conn.user_id), conn.node_id)},
                {Field(conn), Member(conn)},
                [done = std::move(done)](StatusOr<redis::Reply> r) { done(StatusOf(r)); });
}

void RedisPresence::Lookup(std::vector<uint64_t> users,
                           Callback<StatusOr<std::vector<std::vector<Connection>>>> done) {
  if (users.size() > options_.max_lookup_users) {
    return done(Status::InvalidArgument("too many users in one lookup"));
  }
  if (users.empty()) return done(std::vector<std::vector<Connection>>{});
  std::vector<std::vector<std::string>> commands;
  commands.reserve(users.size());
  for (uint64_t u : users) commands.push_back({"HKEYS", UserKey(u)});
  client_->Pipeline(std::move(commands), [users = std::move(users), done = std::move(done)](
                                             StatusOr<std::vector<redis::Reply>> replies) {
    if (!replies.ok()) return done(replies.status());
    if (replies->size() != users.size()) return done(Status::Internal("redis: reply count"));
    std::vector<std::vector<Connection>> out(users.size());
    for (size_t i = 0; i < users.size(); ++i) {
      const redis::Reply& r = (*replies)[i];
      if (r.is_error()) return done(Status::Internal("redis: " + r.str));
      for (const redis::Reply& f : r.elements) {
        Connection c;
        if (!ParseField(users[i], f.str, &c)) {
          return done(Status::Internal("redis: malformed presence entry"));
        }
        out[i].push_back(std::move(c));
      }
    }
    done(std::move(out));
  });
}

void RedisPresence::RemoveNode(std::string node_id, uint64_t epoch, Callback<Status> done) {
  if (Status s = CheckNode(node_id); !s.ok()) return done(s);
  // Rare (a node departs): the script body is sent with each call, one
  // EVAL per partition in one round trip.
  std::vector<std::vector<std::string>> commands;
  for (uint32_t p = 0; p < options_.partitions; ++p) {
    commands.push_back({"EVAL", kRemoveNodeLua, "1", NodeKey(p, node_id), Tag(p) + "user:", node_id,
                        std::to_string(epoch)});
  }
  client_->Pipeline(std::move(commands),
                    [done = std::move(done)](StatusOr<std::vector<redis::Reply>> replies) {
                      if (!replies.ok()) return done(replies.status());
                      for (const auto& r : *replies) {
                        if (r.is_error()) return done(Status::Internal("redis: " + r.str));
                      }
                      done(Status::Ok());
                    });
}

}  // namespace parley::presence

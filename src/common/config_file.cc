#include "common/config_file.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace parley {

namespace {

namespace json = boost::json;

// Binds config keys to Options fields; one setter per key.
using Setter = std::function<Status(const json::value&)>;

template <typename T>
Setter Bind(T* field, const std::string& key) {
  return [field, key](const json::value& v) -> Status {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) return Status::InvalidArgument(key + " must be a string");
      *field = std::string(v.as_string());
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (!v.is_array()) return Status::InvalidArgument(key + " must be a list of strings");
      field->clear();
      for (const auto& e : v.as_array()) {
        if (!e.is_string()) return Status::InvalidArgument(key + " must be a list of strings");
        field->emplace_back(e.as_string());
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) return Status::InvalidArgument(key + " must be a number");
      *field = v.to_number<double>();
    } else {
      boost::system::error_code ec;
      auto n = v.to_number<int64_t>(ec);
      if (ec || n < 0) return Status::InvalidArgument(key + " must be a non-negative integer");
      *field = static_cast<T>(n);
    }
    return Status::Ok();
  };
}

std::map<std::string, Setter> Bindings(Options* o) {
  std::map<std::string, Setter> b;
  auto add = [&b](const std::string& key, auto* field) { b[key] = Bind(field, key); };
  add("listen", &o->listen);
  add("public_ws_url", &o->public_ws_url);
  add("admin_listen", &o->admin_listen);
  add("admin_token", &o->admin_token);
  add("web_root", &o->web_root);
  add("threads", &o->threads);
  add("node_id", &o->node_id);
  add("password_hash_cost", &o->password_hash_cost);
  add("password_hash_threads", &o->password_hash_threads);
  add("password_hash_queue_max", &o->password_hash_queue_max);
  add("session_purge_interval_ms", &o->session_purge_interval_ms);
  add("token_ttl_ms", &o->token_ttl_ms);
  add("log_level", &o->log_level);
  add("log_format", &o->log_format);
  Limits& l = o->limits;
  add("limits.username_min", &l.username_min);
  add("limits.username_max", &l.username_max);
  add("limits.password_min", &l.password_min);
  add("limits.password_max", &l.password_max);
  add("limits.group_name_max", &l.group_name_max);
  add("limits.group_members_max", &l.group_members_max);
  add("limits.body_max", &l.body_max);
  add("limits.page_limit_max", &l.page_limit_max);
  add("limits.page_limit_default", &l.page_limit_default);
  add("limits.send_batch_max", &l.send_batch_max);
  add("limits.request_body_max", &l.request_body_max);
  add("limits.ws_frame_max", &l.ws_frame_max);
  add("limits.sync_reply_max_bytes", &l.sync_reply_max_bytes);
  add("limits.groups_per_user_max", &l.groups_per_user_max);
  add("limits.conversations_page_max", &l.conversations_page_max);
  RateLimits& r = o->rate;
  add("rate.send_per_sec", &r.send_per_sec);
  add("rate.send_burst", &r.send_burst);
  add("rate.ws_violations_before_close", &r.ws_violations_before_close);
  add("rate.auth_per_sec", &r.auth_per_sec);
  add("rate.auth_burst", &r.auth_burst);
  add("rate.read_per_sec", &r.read_per_sec);
  add("rate.read_burst", &r.read_burst);
  add("rate.sync_per_sec", &r.sync_per_sec);
  add("rate.sync_burst", &r.sync_burst);
  add("rate.group_create_per_sec", &r.group_create_per_sec);
  add("rate.group_create_burst", &r.group_create_burst);
  add("rate.group_add_per_sec", &r.group_add_per_sec);
  add("rate.group_add_burst", &r.group_add_burst);
  add("rate.auth_ipv4_prefix", &r.auth_ipv4_prefix);
  add("rate.auth_ipv6_prefix", &r.auth_ipv6_prefix);
  add("rate.login_failures_per_sec", &r.login_failures_per_sec);
  add("rate.login_failures_burst", &r.login_failures_burst);
  add("rate.user_lookups_per_sec", &r.user_lookups_per_sec);
  add("rate.user_lookups_burst", &r.user_lookups_burst);
  add("http.trusted_proxies", &o->http.trusted_proxies);
  ConnectionOptions& c = o->conn;
  add("conn.idle_timeout_ms", &c.idle_timeout_ms);
  add("conn.outbound_queue_max_bytes", &c.outbound_queue_max_bytes);
  add("conn.http_idle_timeout_ms", &c.http_idle_timeout_ms);
  add("conn.drain_timeout_ms", &c.drain_timeout_ms);
  add("conn.logic_call_timeout_ms", &c.logic_call_timeout_ms);
  add("conn.http_logic_timeout_ms", &c.http_logic_timeout_ms);
  add("conn.ws_send_batch_max", &c.ws_send_batch_max);
  add("conn.ws_send_pending_max", &c.ws_send_pending_max);
  add("conn.ws_calls_in_flight_max", &c.ws_calls_in_flight_max);
  add("conn.ws_connections_per_user_max", &c.ws_connections_per_user_max);
  add("conn.ws_connections_per_ip_max", &c.ws_connections_per_ip_max);
  add("conn.ws_connections_max", &c.ws_connections_max);
  add("conn.outbound_total_max_bytes", &c.outbound_total_max_bytes);
  add("conn.write_stall_timeout_ms", &c.write_stall_timeout_ms);
  add("conn.sweep_interval_ms", &c.sweep_interval_ms);
  add("conn.ws_proxy_addresses", &c.ws_proxy_addresses);
  StorageOptions& s = o->storage;
  add("storage.data_dir", &s.data_dir);
  add("storage.commit_batch_max", &s.commit_batch_max);
  add("storage.store_commit_linger_ms", &s.store_commit_linger_ms);
  add("storage.idempotency_ttl_ms", &s.idempotency_ttl_ms);
  add("storage.idempotency_cache_max", &s.idempotency_cache_max);
  add("storage.log_redelivery_ms", &s.log_redelivery_ms);
  add("storage.session_cache_max", &s.session_cache_max);
  add("storage.group_cache_max", &s.group_cache_max);
  add("storage.group_cache_max_bytes", &s.group_cache_max_bytes);
  add("storage.recent_per_conv", &s.recent_per_conv);
  add("storage.recent_convs_max", &s.recent_convs_max);
  add("storage.recent_conv_max_bytes", &s.recent_conv_max_bytes);
  add("storage.recent_max_bytes", &s.recent_max_bytes);
  add("storage.read_cursor_cache_max", &s.read_cursor_cache_max);
  add("storage.known_users_cache_max", &s.known_users_cache_max);
  ClusterOptions& k = o->cluster;
  add("cluster.etcd", &k.etcd);
  add("cluster.redis", &k.redis);
  add("cluster.mysql", &k.mysql);
  add("cluster.grpc_listen", &k.grpc_listen);
  add("cluster.node_name", &k.node_name);
  add("cluster.partitions", &k.partitions);
  add("cluster.lease_ttl_ms", &k.lease_ttl_ms);
  add("cluster.send_claim_ttl_ms", &k.send_claim_ttl_ms);
  add("cluster.seq_lease_ttl_ms", &k.seq_lease_ttl_ms);
  add("cluster.ring_vnodes", &k.ring_vnodes);
  add("cluster.mysql_pool", &k.mysql_pool);
  add("cluster.mysql_append_pool", &k.mysql_append_pool);
  add("cluster.push_request_max_bytes", &k.push_request_max_bytes);
  add("cluster.push_queue_max_bytes", &k.push_queue_max_bytes);
  return b;
}

Status Apply(const json::object& obj, const std::string& prefix,
             const std::map<std::string, Setter>& bindings) {
  for (const auto& [k, v] : obj) {
    std::string key = prefix + std::string(k);
    if (v.is_object()) {
      if (Status s = Apply(v.as_object(), key + ".", bindings); !s.ok()) return s;
      continue;
    }
    auto it = bindings.find(key);
    if (it == bindings.end()) return Status::InvalidArgument("unknown config key " + key);
    if (Status s = it->second(v); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status LoadConfigFile(const std::string& path, Options* options) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value root = json::parse(text.str(), ec);
  if (ec) return Status::InvalidArgument("config file " + path + ": " + ec.message());
  if (!root.is_object()) return Status::InvalidArgument("config file must hold a JSON object");
  return Apply(root.as_object(), "", Bindings(options));
}

}  // namespace parley

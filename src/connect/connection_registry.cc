#include "connect/connection_registry.h"

#include <algorithm>
#include <utility>

namespace parley::connect {

bool ConnectionRegistry::Add(uint64_t user_id, uint64_t conn_id, std::string session_key,
                             std::shared_ptr<WsSession> session, int64_t expires_at,
                             uint32_t per_user_max) {
  std::lock_guard lock(mu_);
  std::vector<Entry>& entries = by_user_[user_id];
  if (per_user_max != 0 && entries.size() >= per_user_max) return false;
  const std::string* key = nullptr;
  if (!session_key.empty()) {
    auto k = by_key_.try_emplace(std::move(session_key)).first;
    k->second.emplace_back(user_id, conn_id);
    key = &k->first;
  }
  entries.push_back(Entry{conn_id, key, std::move(session), expires_at});
  ++size_;
  return true;
}

void ConnectionRegistry::Remove(uint64_t user_id, uint64_t conn_id) {
  std::shared_ptr<WsSession> released;  // destroyed after the lock is dropped
  std::lock_guard lock(mu_);
  auto it = by_user_.find(user_id);
  if (it == by_user_.end()) return;
  auto& entries = it->second;
  auto e = std::find_if(entries.begin(), entries.end(),
                        [&](const Entry& x) { return x.conn_id == conn_id; });
  if (e == entries.end()) return;
  if (e->session_key != nullptr) {
    auto k = by_key_.find(*e->session_key);
    if (k != by_key_.end()) {
      std::erase(k->second, std::make_pair(user_id, conn_id));
      if (k->second.empty()) by_key_.erase(k);
    }
  }
  released = std::move(e->session);
  entries.erase(e);
  if (entries.empty()) by_user_.erase(it);
  --size_;
}

void ConnectionRegistry::SessionsOf(uint64_t user_id, std::vector<Target>& out) const {
  out.clear();
  std::lock_guard lock(mu_);
  auto it = by_user_.find(user_id);
  if (it == by_user_.end()) return;
  for (const Entry& e : it->second) out.push_back(Target{e.conn_id, e.session});
}

std::vector<std::shared_ptr<WsSession>> ConnectionRegistry::Matching(
    uint64_t user_id, const std::string& session_key) const {
  std::vector<std::shared_ptr<WsSession>> out;
  std::lock_guard lock(mu_);
  if (user_id != 0) {
    auto it = by_user_.find(user_id);
    if (it == by_user_.end()) return out;
    for (const Entry& e : it->second) {
      if (session_key.empty() || (e.session_key != nullptr && *e.session_key == session_key)) {
        out.push_back(e.session);
      }
    }
    return out;
  }
  if (session_key.empty()) return out;
  auto k = by_key_.find(session_key);
  if (k == by_key_.end()) return out;
  for (auto [uid, cid] : k->second) {
    auto it = by_user_.find(uid);
    if (it == by_user_.end()) continue;
    for (const Entry& e : it->second) {
      if (e.conn_id == cid) out.push_back(e.session);
    }
  }
  return out;
}

void ConnectionRegistry::MarkRevoked(const std::string& session_key, int64_t now_ms,
                                     int64_t until_ms, size_t max_revoked) {
  std::lock_guard lock(mu_);
  // Lapsed entries go first, then the oldest over the bound. A key marked
  // twice has two places in the order; only the one whose time is still its
  // entry's removes the entry.
  while (!revoked_order_.empty()) {
    const auto& [until, key] = revoked_order_.front();
    if (until > now_ms && revoked_order_.size() < std::max<size_t>(max_revoked, 1)) break;
    if (auto it = revoked_.find(key); it != revoked_.end() && it->second == until) {
      revoked_.erase(it);
    }
    revoked_order_.pop_front();
  }
  revoked_[session_key] = until_ms;
  revoked_order_.emplace_back(until_ms, session_key);
}

bool ConnectionRegistry::WasRevoked(const std::string& session_key, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  auto it = revoked_.find(session_key);
  return it != revoked_.end() && it->second > now_ms;
}

std::vector<std::shared_ptr<WsSession>> ConnectionRegistry::All() const {
  std::vector<std::shared_ptr<WsSession>> out;
  std::lock_guard lock(mu_);
  out.reserve(size_);
  for (const auto& [user_id, entries] : by_user_) {
    for (const Entry& e : entries) out.push_back(e.session);
  }
  return out;
}

void ConnectionRegistry::Scan(
    const std::function<void(int64_t, const std::shared_ptr<WsSession>&)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [user_id, entries] : by_user_) {
    for (const Entry& e : entries) fn(e.expires_at, e.session);
  }
}

size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

size_t ConnectionRegistry::user_count() const {
  std::lock_guard lock(mu_);
  return by_user_.size();
}

}  // namespace parley::connect

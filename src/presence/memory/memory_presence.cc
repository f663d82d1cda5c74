#include "presence/memory/memory_presence.h"

#include <algorithm>
#include <iterator>

namespace parley::presence {

void MemoryPresence::Add(Connection conn, Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    std::vector<Connection>& conns = conns_[conn.user_id];
    if (std::find(conns.begin(), conns.end(), conn) == conns.end()) {
      conns.push_back(std::move(conn));
    }
  }
  done(Status::Ok());
}

void MemoryPresence::Remove(Connection conn, Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    if (auto it = conns_.find(conn.user_id); it != conns_.end()) {
      std::erase(it->second, conn);
      if (it->second.empty()) conns_.erase(it);
    }
  }
  done(Status::Ok());
}

void MemoryPresence::Lookup(std::vector<uint64_t> users,
                            Callback<StatusOr<std::vector<std::vector<Connection>>>> done) {
  // Offline users, the common case, cost an empty inner vector and no
  // allocation; only online users' connections are copied under the lock.
  std::vector<std::vector<Connection>> reply(users.size());
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < users.size(); ++i) {
      if (auto it = conns_.find(users[i]); it != conns_.end()) reply[i] = it->second;
    }
  }
  done(std::move(reply));
}

void MemoryPresence::RemoveNode(std::string node_id, uint64_t epoch, Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      std::erase_if(it->second, [&](const Connection& c) {
        return c.node_id == node_id && c.node_epoch <= epoch;
      });
      it = it->second.empty() ? conns_.erase(it) : std::next(it);
    }
  }
  done(Status::Ok());
}

}  // namespace parley::presence

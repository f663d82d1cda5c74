// The live WebSocket sessions of one connect node: user id -> sessions, and
// session key (one login) -> sessions. Thread-safe: a mutex guards the maps
// and is held only to edit them or copy a snapshot, never while anything is
// written to a socket.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley::connect {

class WsSession;

class ConnectionRegistry {
 public:
  struct Target {
    uint64_t conn_id = 0;
    std::shared_ptr<WsSession> session;
  };

  // Holds `session` until Remove(user_id, conn_id), and returns true; or,
  // when `per_user_max` is non-zero and the user has that many sessions
  // already, holds nothing and returns false (checked and added atomically).
  // `expires_at` (ms since the epoch, 0: never) is when its token expires.
  bool Add(uint64_t user_id, uint64_t conn_id, std::string session_key,
           std::shared_ptr<WsSession> session, int64_t expires_at = 0, uint32_t per_user_max = 0);
  // No-op when absent.
  void Remove(uint64_t user_id, uint64_t conn_id);

  // Replaces `out` with the sessions of `user_id` (a snapshot; `out` is
  // reused by callers on hot paths to avoid allocating).
  void SessionsOf(uint64_t user_id, std::vector<Target>& out) const;
  // The sessions of `user_id` whose session key is `session_key`; every
  // session of the user when the key is empty; every session of the key
  // when user_id is 0.
  std::vector<std::shared_ptr<WsSession>> Matching(uint64_t user_id,
                                                   const std::string& session_key) const;
  std::vector<std::shared_ptr<WsSession>> All() const;

  // Revoked session keys, remembered for a while: a socket whose Connect
  // read its session before the revocation may register after the kick
  // went by. A kick marks the key, then closes Matching sessions; a
  // registration Adds, then asks WasRevoked: whichever comes second sees
  // the other, so no such socket stays open. At most `max_revoked` keys are
  // kept (the oldest go first); an entry lapses at `until_ms`.
  void MarkRevoked(const std::string& session_key, int64_t now_ms, int64_t until_ms,
                   size_t max_revoked);
  bool WasRevoked(const std::string& session_key, int64_t now_ms) const;
  // Calls `fn(expires_at, session)` for every session, under the lock: `fn`
  // must be quick (a few loads and comparisons) and must not call into the
  // registry. The periodic sweep of a node: one pass serves all sessions.
  void Scan(
      const std::function<void(int64_t expires_at, const std::shared_ptr<WsSession>&)>& fn) const;

  size_t size() const;
  size_t user_count() const;

 private:
  mutable std::mutex mu_;
  struct Entry {
    uint64_t conn_id = 0;
    // The key of its by_key_ node (nullptr: none), rather than a copy of its
    // own: a session key is 64 characters, and every idle connection has an
    // entry. Node keys of an unordered_map stay put on rehash; the node is
    // erased only with the last entry that points to it.
    const std::string* session_key = nullptr;
    std::shared_ptr<WsSession> session;
    int64_t expires_at = 0;
  };

  // State below is protected by mu_. A user has one or a few connections:
  // a vector is smaller and faster than a nested map.
  std::unordered_map<uint64_t, std::vector<Entry>> by_user_;
  // session_key -> (user_id, conn_id) of its connections.
  std::unordered_map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> by_key_;
  size_t size_ = 0;
  // Revoked key -> until when it is remembered; and the keys in marking
  // order, for forgetting the oldest.
  std::unordered_map<std::string, int64_t> revoked_;
  std::deque<std::pair<int64_t, std::string>> revoked_order_;
};

}  // namespace parley::connect

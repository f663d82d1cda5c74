// Fanout: what logic itself sends to connect nodes: read receipts to the
// live connections of a conversation's participants, and kicks of a revoked
// session's sockets. Finds connections in presence (one batched lookup) and
// nodes in the connect directory; best effort (a client that misses a
// receipt sees the cursor at its next sync).
//
// Thread-safe (it holds no state of its own). `deps` must outlive it.
#pragma once

#include <vector>

#include "logic/logic_deps.h"

namespace parley::logic {

class Fanout {
 public:
  explicit Fanout(const LogicDeps& deps) : deps_(deps) {}

  // Pushes `receipt` to every live connection of `users` (except its origin).
  void PushRead(rpc::ReadReceipt receipt, std::vector<uint64_t> users);
  // Closes, on every node, the sockets opened with the session.
  void KickSession(uint64_t user_id, const std::string& session_key, uint32_t close_code,
                   const std::string& reason);

 private:
  const LogicDeps& deps_;
};

}  // namespace parley::logic

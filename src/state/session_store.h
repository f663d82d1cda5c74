// SessionStore: login sessions (by the hash of their bearer token), shared
// by every logic node. A revocation is seen by every node before Revoke's
// `done` runs: no Find started afterwards, on any node, returns the session.
// Embedded mode: CachedSessionStore over the Store; cluster mode: Redis in
// front of MariaDB.
//
// Every method returns at once and calls `done` exactly once, on a thread of
// the implementation (possibly the caller's, before returning).
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/callback.h"
#include "common/status.h"

namespace parley::state {

struct Session {
  std::string token_hash;  // never the token itself
  uint64_t user_id = 0;
  int64_t expires_at = 0;  // ms since the epoch; expiry is the caller's to check
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  virtual void Create(Session session, Callback<Status> done) = 0;
  // NOT_FOUND when absent or revoked.
  virtual void Find(std::string token_hash, Callback<StatusOr<Session>> done) = 0;
  // OK also when it did not exist.
  virtual void Revoke(std::string token_hash, Callback<Status> done) = 0;
};

}  // namespace parley::state

// Store: users, sessions, groups, messages and read cursors; the system of
// record. Embedded mode uses SqliteStore (store/sqlite/), cluster mode a
// MariaDB implementation. Every method is asynchronous: it returns at once and
// calls `done` exactly once, on a thread of the store. Implementations are
// thread-safe: any thread may call any method at any time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/callback.h"
#include "common/status.h"
#include "model/group_membership.h"
#include "parley/message.pb.h"

namespace parley::store {

using model::GroupAdds;
using model::MembershipRules;

struct UserRecord {
  uint64_t user_id = 0;
  std::string username;  // as registered
  std::string password_hash;
  int64_t created_at = 0;
  GroupAdds group_adds = GroupAdds::kAnyone;
};

struct SessionRecord {
  std::string token_hash;  // never the token itself
  uint64_t user_id = 0;
  int64_t expires_at = 0;
};

struct MessagePage {
  std::vector<rpc::ChatMessage> messages;  // ascending by seq
  bool has_more = false;
};

// Identifies a sent message for idempotency: (sender, client id) -> ack.
struct SentKey {
  uint64_t from = 0;
  std::string client_id;
  uint64_t msg_id = 0;
  std::string conv;
  uint64_t seq = 0;
  int64_t ts = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- accounts ---
  // ALREADY_EXISTS when the username is taken (compared ASCII
  // case-insensitively). Assigns user ids from 1.
  virtual void CreateUser(std::string username, std::string password_hash, int64_t now,
                          Callback<StatusOr<UserRecord>> done) = 0;
  // NOT_FOUND when absent; lookup is case-insensitive.
  virtual void FindUserByName(std::string username, Callback<StatusOr<UserRecord>> done) = 0;
  virtual void FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) = 0;

  virtual void CreateSession(SessionRecord session, Callback<Status> done) = 0;
  // NOT_FOUND when absent (expiry is the caller's to check).
  virtual void FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) = 0;
  // OK also when it did not exist.
  virtual void DeleteSession(std::string token_hash, Callback<Status> done) = 0;
  // Deletes at most `max_rows` sessions that expired at or before `now`, and
  // answers how many it deleted (fewer than `max_rows`: none are left). The
  // cap bounds how long one call holds the store's writer.
  virtual void PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                                    Callback<StatusOr<uint64_t>> done) = 0;

  // Sets who may add the user to groups. NOT_FOUND for an unknown user.
  virtual void SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) = 0;

  // --- groups ---
  // `members` includes the owner; duplicates are ignored. Each member gets
  // the group's conversation ("g:<id>") in its conversation list. Checks
  // `rules` (model/group_membership.h) in the transaction that inserts;
  // nothing is created when a check fails.
  virtual void CreateGroup(std::string name, uint64_t owner, std::vector<uint64_t> members,
                           int64_t now, MembershipRules rules,
                           Callback<StatusOr<rpc::Group>> done) = 0;
  // Members in order of joining. NOT_FOUND when absent.
  virtual void GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) = 0;
  // No-op when already a member (whatever `rules` say). Otherwise checks
  // `rules` in the transaction that inserts.
  virtual void AddGroupMember(uint64_t group_id, uint64_t user_id, int64_t now,
                              MembershipRules rules, Callback<Status> done) = 0;
  // Removes the member and its conversation entry; when the owner leaves,
  // ownership passes to the longest-standing remaining member. Returns the
  // group as it is afterwards (no members left: the group still exists).
  virtual void RemoveGroupMember(uint64_t group_id, uint64_t user_id,
                                 Callback<StatusOr<rpc::Group>> done) = 0;

  // --- conversations ---
  // Every conversation of the user: private ones it has messages in, and the
  // groups it belongs to; most recent activity first. last_seq/last_ts are
  // those of persisted messages.
  virtual void ListConversations(uint64_t user_id,
                                 Callback<StatusOr<std::vector<rpc::ConvState>>> done) = 0;
  // Moves the user's read cursor up to `seq` (never down). Returns the
  // cursor afterwards.
  virtual void SetReadSeq(uint64_t user_id, std::string conv, uint64_t seq,
                          Callback<StatusOr<uint64_t>> done) = 0;
  // Highest persisted seq of every conversation; for priming counters at start.
  virtual void LoadLastSeqs(
      Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) = 0;

  // --- messages ---
  // Idempotent on msg_id and on (from, client_id): rows already present are
  // skipped. Creates private conversation entries for both parties. One
  // transaction per call.
  virtual void AppendMessages(std::vector<rpc::ChatMessage> batch, Callback<Status> done) = 0;
  // before_seq > 0: the `limit` messages just below it; else if has_after:
  // up to `limit` above after_seq; else the newest `limit`. has_more tells
  // whether more exist in the paging direction.
  virtual void GetMessages(std::string conv, uint64_t after_seq, bool has_after,
                           uint64_t before_seq, uint32_t limit,
                           Callback<StatusOr<MessagePage>> done) = 0;
  // NOT_FOUND when no message of `from` has that client id.
  virtual void FindSent(uint64_t from, std::string client_id, Callback<StatusOr<SentKey>> done) = 0;
  // Sent keys with ts >= since_ms, newest first, at most `limit`; for priming
  // the idempotency cache at start.
  virtual void LoadRecentSent(int64_t since_ms, uint32_t limit,
                              Callback<StatusOr<std::vector<SentKey>>> done) = 0;

  // OK while the store answers; for /readyz.
  virtual void Ping(Callback<Status> done) = 0;
};

}  // namespace parley::store

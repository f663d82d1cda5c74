// MariaDbStore: the cluster-mode Store on MariaDB 10.11 (or MySQL), through
// the MariaDB C connector. A pool of worker threads, each owning one
// connection, runs the calls in the order they were queued (a bounded queue);
// callbacks run on those worker threads and must not block for long or call
// Close(). Schema: migrations/*.sql, applied by Migrate (`parley migrate`).
//
// Failures:
// - The server unreachable, or gone mid-call: the call fails with
//   UNAVAILABLE; the worker reconnects (with backoff) on a later call, so the
//   store serves again as soon as the server does. Calls that are safe to
//   repeat (reads, AppendMessages, DeleteSession, AddGroupMember, SetReadSeq)
//   are retried once on a fresh connection when the old one was found dead.
// - The queue full (options.queue_max calls waiting), or the store closed:
//   UNAVAILABLE at once, and then `done` runs on the calling thread before
//   the call returns: the one exception to "on a thread of the store".
//
// Beyond store.h (as SqliteStore):
// - ListConversations orders by last activity: the last message's ts, or a
//   group's creation time while it has no message; then by conv.
// - A member added to an existing group starts with its read cursor at the
//   group's last persisted seq. A sender's cursor moves up to its own message.
// - SetReadSeq on a private conversation of the user with no persisted
//   message yet creates the user's entry; on a group the user is not in, or a
//   private conversation it is not part of: NOT_FOUND.
// - RemoveGroupMember of a non-member: NOT_FOUND. The last member leaving
//   leaves owner = 0.
// - AppendMessages writes a batch with one multi-row INSERT ... ON DUPLICATE
//   KEY UPDATE no-op (several when it exceeds the append_* limits), in one
//   transaction with the conversation entries. Rows already present (same
//   msg_id, or same sender and client id) are skipped and do not move the
//   conversation; a row whose (conv, seq) holds another message is skipped
//   and logged (a bug upstream; failing the batch would stall persistence).
// - Values that do not fit their column (a username over 255 characters, a
//   body over 16 MiB) fail with INVALID_ARGUMENT.
//
// Thread-safe. Close() (or the destructor) finishes every queued call first.
#pragma once

#include <memory>
#include <string>

#include "store/mariadb/mariadb_dsn.h"
#include "store/mariadb/mariadb_store_options.h"
#include "store/store.h"

namespace parley::store {

class MariaDbWorkerPool;

class MariaDbStore final : public Store {
 public:
  // Connects to `dsn` (MariaDbDsn) and checks its schema: INVALID_ARGUMENT for
  // a bad DSN or options, UNAVAILABLE when the server cannot be reached,
  // INTERNAL when the schema is newer than this build's, or older and
  // options.migrate is false (then run Migrate first).
  static StatusOr<std::unique_ptr<MariaDbStore>> Open(const std::string& dsn,
                                                      const MariaDbStoreOptions& options = {});
  // Applies the migrations the database lacks; safe to run from several
  // processes at once. Returns the schema version afterwards.
  static StatusOr<int> Migrate(const std::string& dsn, const MariaDbStoreOptions& options = {});
  // The database's schema version (0: none applied), and this build's.
  static StatusOr<int> SchemaVersion(const std::string& dsn,
                                     const MariaDbStoreOptions& options = {});
  static int LatestSchemaVersion();

  ~MariaDbStore() override;  // Close()

  // Completes every call made so far, then closes the connections; later
  // calls get UNAVAILABLE. Idempotent.
  void Close();

  void CreateUser(std::string username, std::string password_hash, int64_t now,
                  Callback<StatusOr<UserRecord>> done) override;
  void FindUserByName(std::string username, Callback<StatusOr<UserRecord>> done) override;
  void FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) override;

  void CreateSession(SessionRecord session, Callback<Status> done) override;
  void FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) override;
  void DeleteSession(std::string token_hash, Callback<Status> done) override;
  void SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) override;
  void PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                            Callback<StatusOr<uint64_t>> done) override;

  void CreateGroup(std::string name, uint64_t owner, std::vector<uint64_t> members, int64_t now,
                   MembershipRules rules, Callback<StatusOr<rpc::Group>> done) override;
  void GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) override;
  void AddGroupMember(uint64_t group_id, uint64_t user_id, int64_t now, MembershipRules rules,
                      Callback<Status> done) override;
  void RemoveGroupMember(uint64_t group_id, uint64_t user_id,
                         Callback<StatusOr<rpc::Group>> done) override;

  void ListConversations(uint64_t user_id,
                         Callback<StatusOr<std::vector<rpc::ConvState>>> done) override;
  void SetReadSeq(uint64_t user_id, std::string conv, uint64_t seq,
                  Callback<StatusOr<uint64_t>> done) override;
  void LoadLastSeqs(
      Callback<StatusOr<std::vector<std::pair<std::string, uint64_t>>>> done) override;

  void AppendMessages(std::vector<rpc::ChatMessage> batch, Callback<Status> done) override;
  void GetMessages(std::string conv, uint64_t after_seq, bool has_after, uint64_t before_seq,
                   uint32_t limit, Callback<StatusOr<MessagePage>> done) override;
  void FindSent(uint64_t from, std::string client_id, Callback<StatusOr<SentKey>> done) override;
  void LoadRecentSent(int64_t since_ms, uint32_t limit,
                      Callback<StatusOr<std::vector<SentKey>>> done) override;

  void Ping(Callback<Status> done) override;

 private:
  enum class Retry { kNo, kOnceOnLostConnection };

  MariaDbStore(const MariaDbStoreOptions& options, std::unique_ptr<MariaDbWorkerPool> pool,
               std::unique_ptr<MariaDbWorkerPool> append_pool);

  // Queues fn(MariaDbConnection&) -> R on a worker of `pool`; `done` gets
  // its result.
  template <typename R, typename Fn>
  static void RunOn(MariaDbWorkerPool& pool, Retry retry, Fn fn, Callback<R> done);
  template <typename R, typename Fn>
  void Run(Retry retry, Fn fn, Callback<R> done) {
    RunOn(*pool_, retry, std::move(fn), std::move(done));
  }
  // Answers `status` (an invalid input) from a worker, as every call does.
  template <typename R>
  void Reject(Status status, Callback<R> done);

  const MariaDbStoreOptions options_;
  std::unique_ptr<MariaDbWorkerPool> pool_;
  std::unique_ptr<MariaDbWorkerPool> append_pool_;  // AppendMessages only
};

}  // namespace parley::store

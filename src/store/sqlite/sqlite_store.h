// SqliteStore: the embedded Store over one SQLite file (WAL,
// synchronous=FULL). Writes are queued to a writer thread that group-commits
// them (see SqliteWriter); reads run on two reader threads with their own
// read-only connections. Callbacks run on those threads and must not block
// for long or call Close().
//
// Beyond store.h:
// - ListConversations orders by last activity: the last message's ts, or a
//   group's creation time while it has no message; then by conv.
// - A member added to an existing group starts with its read cursor at the
//   group's last persisted seq (history from before it joined is not unread).
// - SetReadSeq on a private conversation of the user that has no persisted
//   message yet creates the user's entry; on a group the user is not in, or a
//   private conversation it is not part of: NOT_FOUND.
// - RemoveGroupMember of a non-member: NOT_FOUND. The last member leaving
//   leaves owner = 0.
// - AppendMessages skips (and logs) a row whose (conv, seq) is taken by a
//   different message: that is a bug upstream, and failing the batch would
//   only stall persistence.
//
// Thread-safe. Close() (or the destructor) finishes every queued call first.
#pragma once

#include <memory>
#include <string>

#include "common/options.h"
#include "sqlite/sqlite_reader_pool.h"
#include "sqlite/sqlite_writer.h"
#include "store/store.h"

namespace parley::store {

class SqliteStore final : public Store {
 public:
  // Opens (creating when absent) the database at `path` and migrates its
  // schema. Uses options.commit_batch_max for group commit.
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                     const StorageOptions& options);
  ~SqliteStore() override;  // Close()

  // Completes every call made so far, then stops the threads; later calls get
  // UNAVAILABLE. Idempotent.
  void Close();

  void CreateUser(std::string username, std::string password_hash, int64_t now,
                  Callback<StatusOr<UserRecord>> done) override;
  void FindUserByName(std::string username, Callback<StatusOr<UserRecord>> done) override;
  void FindUserById(uint64_t user_id, Callback<StatusOr<UserRecord>> done) override;

  void CreateSession(SessionRecord session, Callback<Status> done) override;
  void FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) override;
  void DeleteSession(std::string token_hash, Callback<Status> done) override;
  void PurgeExpiredSessions(int64_t now, uint32_t max_rows,
                            Callback<StatusOr<uint64_t>> done) override;

  void SetGroupAdds(uint64_t user_id, GroupAdds who, Callback<Status> done) override;

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
  SqliteStore(std::unique_ptr<sqlite::SqliteWriter> writer,
              std::unique_ptr<sqlite::SqliteReaderPool> readers);

  // Queues `fn(db) -> StatusOr<T>` on a reader; `done` gets its result.
  template <typename T, typename Fn>
  void Read(Fn fn, Callback<StatusOr<T>> done);

  std::unique_ptr<sqlite::SqliteWriter> writer_;
  std::unique_ptr<sqlite::SqliteReaderPool> readers_;
};

}  // namespace parley::store

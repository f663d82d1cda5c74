#include "sqlite/wal_write_coalescing_vfs.h"

#include <sqlite3.h>

#include <string>

#include <gtest/gtest.h>

#include "sqlite/sqlite_db.h"
#include "support/test_util.h"

namespace parley::sqlite {
namespace {

using parley::testing::TempDir;

int64_t QueryInt(SqliteDb& db, const char* sql) {
  auto st = db.Prepare(sql);
  EXPECT_TRUE(st.ok()) << st.status().message();
  if (!st.ok() || st->Step() != SQLITE_ROW) return -1;
  return st->Int(0);
}

// Writes `rows` rows of `bytes` each in one transaction.
void InsertRows(SqliteDb& db, int first, int rows, size_t bytes) {
  ASSERT_TRUE(db.Exec("BEGIN IMMEDIATE").ok());
  const std::string payload(bytes, 'x');
  for (int i = 0; i < rows; ++i) {
    auto st = db.Prepare("INSERT INTO t(id, payload) VALUES(?1, ?2)");
    ASSERT_TRUE(st.ok());
    st->Bind(1, first + i).BindBlob(2, payload);
    ASSERT_TRUE(db.Done(st->Step(), "t").ok());
  }
  Status commit = db.Exec("COMMIT");
  ASSERT_TRUE(commit.ok()) << commit.message();
}

// Writers open their files through the VFS (SqliteDb::Open); readers through
// SQLite's default one, as the store's and the log's readers do.
class WalWriteCoalescingVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = SqliteDb::Open(path_, SqliteDb::Mode::kWriter);
    ASSERT_TRUE(w.ok()) << w.status().message();
    writer_ = std::move(*w);
    ASSERT_TRUE(writer_->Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB)").ok());
    auto r = SqliteDb::Open(path_, SqliteDb::Mode::kReader);
    ASSERT_TRUE(r.ok()) << r.status().message();
    reader_ = std::move(*r);
  }

  TempDir dir_;
  std::string path_ = dir_.path() + "/t.db";
  std::unique_ptr<SqliteDb> writer_;
  std::unique_ptr<SqliteDb> reader_;
};

TEST_F(WalWriteCoalescingVfsTest, IsRegisteredUnderItsNameAndNotAsTheDefault) {
  const char* name = WalWriteCoalescingVfs();
  ASSERT_NE(sqlite3_vfs_find(name), nullptr);
  EXPECT_NE(sqlite3_vfs_find(nullptr), sqlite3_vfs_find(name));
}

TEST_F(WalWriteCoalescingVfsTest, AnotherConnectionSeesEveryCommitAsSoonAsItReturns) {
  int next = 1;
  // Small commits, and commits of many pages, larger than the buffer, which
  // go to the file in several writes.
  for (auto [rows, bytes] : {std::pair{1, 10}, {50, 3000}, {300, 4000}, {40, 200000}, {3, 100}}) {
    InsertRows(*writer_, next, rows, static_cast<size_t>(bytes));
    next += rows;
    EXPECT_EQ(QueryInt(*reader_, "SELECT count(*) FROM t"), next - 1);
    EXPECT_EQ(
        QueryInt(*reader_, "SELECT sum(length(payload)) FROM t WHERE id = (SELECT max(id) FROM t)"),
        bytes);
  }
}

TEST_F(WalWriteCoalescingVfsTest, TheFileIsIntactAfterCheckpointsAndReopening) {
  // Enough WAL traffic for SQLite's automatic checkpoints (1,000 pages),
  // which read the buffered frames back.
  for (int i = 0; i < 20; ++i) InsertRows(*writer_, i * 100 + 1, 100, 1000);
  ASSERT_TRUE(writer_->Exec("UPDATE t SET payload = zeroblob(10) WHERE id % 2 = 0").ok());
  reader_.reset();
  writer_.reset();

  auto again = SqliteDb::Open(path_, SqliteDb::Mode::kReader);
  ASSERT_TRUE(again.ok()) << again.status().message();
  auto st = (*again)->Prepare("PRAGMA integrity_check");
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->Step(), SQLITE_ROW);
  EXPECT_EQ(st->Text(0), "ok");
  EXPECT_EQ(QueryInt(**again, "SELECT count(*) FROM t"), 2000);
  EXPECT_EQ(QueryInt(**again, "SELECT sum(length(payload)) FROM t"), 1000 * 1000 + 1000 * 10);
}

}  // namespace
}  // namespace parley::sqlite

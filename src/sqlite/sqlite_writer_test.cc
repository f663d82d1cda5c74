#include "sqlite/sqlite_writer.h"

#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::sqlite {
namespace {

using parley::testing::TempDir;

// Records the order in which the writer applies and finishes ops.
class Recorder {
 public:
  void Add(std::string e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

// Inserts `id` into t; fails (after inserting) when `fail`.
class InsertOp final : public SqliteWriter::Op {
 public:
  InsertOp(int id, bool fail, Recorder* rec, std::promise<Status>* done,
           std::shared_future<void> gate = {}, bool urgent = true)
      : id_(id), fail_(fail), rec_(rec), done_(done), gate_(std::move(gate)), urgent_(urgent) {}
  bool Urgent() const override { return urgent_; }
  Status Apply(SqliteDb& db) override {
    rec_->Add("A" + std::to_string(id_));
    auto st = db.Prepare("INSERT INTO t(id) VALUES(?1)");
    if (!st.ok()) return st.status();
    st->Bind(1, id_);
    Status s = db.Done(st->Step(), "t");
    if (!s.ok()) return s;
    return fail_ ? Status::InvalidArgument("op failed on purpose") : Status::Ok();
  }
  void Finish(Status status) override {
    rec_->Add("F" + std::to_string(id_));
    if (gate_.valid()) gate_.wait();  // holds the writer so that later ops queue up
    if (done_ != nullptr) done_->set_value(std::move(status));
  }

 private:
  int id_;
  bool fail_;
  Recorder* rec_;
  std::promise<Status>* done_;
  std::shared_future<void> gate_;
  bool urgent_;
};

std::unique_ptr<SqliteDb> OpenWithTable(const std::string& path) {
  auto db = SqliteDb::Open(path, SqliteDb::Mode::kWriter);
  EXPECT_TRUE(db.ok()) << db.status().message();
  EXPECT_TRUE((*db)->Exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY)").ok());
  return std::move(db).value();
}

std::vector<int64_t> Ids(const std::string& path) {
  auto db = SqliteDb::Open(path, SqliteDb::Mode::kReader);
  EXPECT_TRUE(db.ok());
  auto st = (*db)->Prepare("SELECT id FROM t ORDER BY id");
  std::vector<int64_t> ids;
  while (st->Step() == SQLITE_ROW) ids.push_back(st->Int(0));
  return ids;
}

// Queues ops 1..n behind op 0, whose Finish holds the writer until all are
// queued; returns their statuses.
std::vector<Status> RunHeldBatch(SqliteWriter& writer, Recorder& rec, int n, int failing) {
  std::promise<void> release;
  std::promise<Status> first;
  writer.Submit(std::make_unique<InsertOp>(100, false, &rec, &first, release.get_future().share()));
  while (rec.events().size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<std::promise<Status>> done(n);
  for (int i = 0; i < n; ++i) {
    writer.Submit(std::make_unique<InsertOp>(i + 1, i + 1 == failing, &rec, &done[i]));
  }
  release.set_value();
  EXPECT_TRUE(first.get_future().get().ok());
  std::vector<Status> out;
  for (auto& d : done) out.push_back(d.get_future().get());
  return out;
}

TEST(SqliteWriterTest, GroupCommitsQueuedOpsAndIsolatesAFailedOne) {
  TempDir dir;
  const std::string path = dir.path() + "/w.db";
  Recorder rec;
  SqliteWriter writer(OpenWithTable(path), /*batch_max=*/100);
  auto statuses = RunHeldBatch(writer, rec, 4, /*failing=*/2);
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_EQ(statuses[1].code(), Code::kInvalidArgument);
  EXPECT_TRUE(statuses[2].ok());
  EXPECT_TRUE(statuses[3].ok());
  // Ops 1-4 were applied in one transaction, then finished in order.
  std::vector<std::string> want = {"A100", "F100", "A1", "A2", "A3", "A4", "F1", "F2", "F3", "F4"};
  EXPECT_EQ(rec.events(), want);
  writer.Close();
  // The failed op's insert was rolled back; the others were committed.
  EXPECT_EQ(Ids(path), (std::vector<int64_t>{1, 3, 4, 100}));
}

TEST(SqliteWriterTest, BatchesAreCappedByWeight) {
  TempDir dir;
  const std::string path = dir.path() + "/w.db";
  Recorder rec;
  SqliteWriter writer(OpenWithTable(path), /*batch_max=*/3);
  auto statuses = RunHeldBatch(writer, rec, 5, /*failing=*/0);
  for (const auto& s : statuses) EXPECT_TRUE(s.ok());
  std::vector<std::string> want = {"A100", "F100", "A1", "A2", "A3", "F1",
                                   "F2",   "F3",   "A4", "A5", "F4", "F5"};
  EXPECT_EQ(rec.events(), want);
}

TEST(SqliteWriterTest, LoneFailingOpRollsBack) {
  TempDir dir;
  const std::string path = dir.path() + "/w.db";
  Recorder rec;
  SqliteWriter writer(OpenWithTable(path), 100);
  std::promise<Status> a, b;
  writer.Submit(std::make_unique<InsertOp>(1, true, &rec, &a));
  EXPECT_EQ(a.get_future().get().code(), Code::kInvalidArgument);
  writer.Submit(std::make_unique<InsertOp>(2, false, &rec, &b));
  EXPECT_TRUE(b.get_future().get().ok());
  writer.Close();
  EXPECT_EQ(Ids(path), (std::vector<int64_t>{2}));
}

TEST(SqliteWriterTest, CloseFinishesQueuedOpsAndRejectsLaterOnes) {
  TempDir dir;
  const std::string path = dir.path() + "/w.db";
  Recorder rec;
  int maintenance_runs = 0;
  bool closing_seen = false;
  auto writer =
      std::make_unique<SqliteWriter>(OpenWithTable(path), 100, [&](SqliteDb&, bool closing) {
        ++maintenance_runs;
        closing_seen = closing_seen || closing;
      });
  std::vector<std::promise<Status>> done(50);
  for (int i = 0; i < 50; ++i) {
    writer->Submit(std::make_unique<InsertOp>(i + 1, false, &rec, &done[i]));
  }
  writer->Close();
  for (auto& d : done) EXPECT_TRUE(d.get_future().get().ok());
  EXPECT_TRUE(closing_seen);
  EXPECT_GE(maintenance_runs, 1);
  std::promise<Status> late;
  writer->Submit(std::make_unique<InsertOp>(999, false, &rec, &late));
  EXPECT_EQ(late.get_future().get().code(), Code::kUnavailable);
  EXPECT_EQ(Ids(path).size(), 50u);
}

// Ops nobody waits on (the persist consumer's batches) wait for company, so
// that one commit serves many; whoever needs the writer ends the wait.
TEST(SqliteWriterTest, OpsNobodyWaitsOnLingerUntilAnUrgentOpOrAFullBatch) {
  TempDir dir;
  const std::string path = dir.path() + "/w.db";
  Recorder rec;
  SqliteWriter writer(OpenWithTable(path), /*batch_max=*/3, nullptr, 200,
                      /*linger=*/std::chrono::seconds(60));
  auto lingering = [&](int id, std::promise<Status>* done) {
    writer.Submit(std::make_unique<InsertOp>(id, false, &rec, done, std::shared_future<void>{},
                                             /*urgent=*/false));
  };
  std::promise<Status> done[7];
  lingering(1, &done[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  lingering(2, &done[2]);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(rec.events().empty()) << "still lingering";

  writer.Submit(std::make_unique<InsertOp>(3, false, &rec, &done[3]));  // urgent
  for (int i : {1, 2, 3}) EXPECT_TRUE(done[i].get_future().get().ok());
  EXPECT_EQ(rec.events(), (std::vector<std::string>{"A1", "A2", "A3", "F1", "F2", "F3"}))
      << "one transaction";

  for (int i : {4, 5, 6}) lingering(i, &done[i]);  // a full batch: no wait
  for (int i : {4, 5, 6}) EXPECT_TRUE(done[i].get_future().get().ok());
  EXPECT_EQ(rec.events().size(), 12u);
}

TEST(SqliteWriterTest, ALingeringOpIsCommittedWithinTheLingerOrAtClose) {
  TempDir dir;
  const std::string path = dir.path() + "/w.db";
  Recorder rec;
  {
    SqliteWriter writer(OpenWithTable(path), 100, nullptr, 200, std::chrono::milliseconds(30));
    std::promise<Status> done;
    writer.Submit(
        std::make_unique<InsertOp>(1, false, &rec, &done, std::shared_future<void>{}, false));
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  SqliteWriter writer(OpenWithTable(path), 100, nullptr, 200, std::chrono::seconds(60));
  std::promise<Status> done;
  writer.Submit(
      std::make_unique<InsertOp>(2, false, &rec, &done, std::shared_future<void>{}, false));
  writer.Close();
  EXPECT_TRUE(done.get_future().get().ok());
  EXPECT_EQ(Ids(path), (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace parley::sqlite

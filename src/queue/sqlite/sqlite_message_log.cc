#include "queue/sqlite/sqlite_message_log.h"

#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

#include "common/thread_name.h"

namespace parley::queue {

using sqlite::SqliteDb;

namespace {

constexpr int kSchemaVersion = 1;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS log(
  offset  INTEGER PRIMARY KEY,
  payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cursors(
  grp    TEXT PRIMARY KEY,
  offset INTEGER NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
)sql";

// Slot values of a delivered, unacked entry are its redelivery deadline (ns).
constexpr int64_t kAcked = -1;
constexpr int64_t kQueued = std::numeric_limits<int64_t>::max();  // awaiting redelivery

// New entries go to a group only while fewer than this many of its batches
// are unacked: a stuck consumer costs bounded memory and no busy work.
constexpr uint64_t kBatchesInFlight = 16;
// Delivered-but-unacked span (oldest unacked to newest delivered) beyond
// which a group waits for redelivery of its oldest entry: bounds slot memory.
constexpr uint64_t kMaxWindow = 1 << 20;
// Committed entries kept in memory for delivery (a power of two: the ring's
// capacity).
constexpr size_t kCacheMax = 1 << 16;
// Redelivery deadlines are checked this often while entries are in flight.
constexpr auto kTick = std::chrono::milliseconds(50);
constexpr uint32_t kMaintenanceMs = 200;
constexpr auto kTrimInterval = std::chrono::seconds(1);
// Rows deleted per maintenance run, so that a long backlog does not hold up
// appends.
constexpr uint64_t kTrimChunk = 100'000;

}  // namespace

struct SqliteMessageLog::Group {
  struct Pending {
    uint64_t lo, hi;  // offsets delivered together (redelivered ones may be sparse)
    int64_t deadline;
  };

  std::string name;
  uint32_t max_batch = 1;
  std::shared_ptr<const std::function<void(std::vector<LogEntry>)>> handler;
  uint64_t cursor = 0;  // every offset <= cursor is acked
  uint64_t persisted = 0;
  bool persisted_valid = false;
  uint64_t next = 1;  // lowest offset not yet delivered by this process
  // slots[i] is offset cursor + 1 + i, for offsets below `next`.
  std::deque<int64_t> slots;
  uint64_t acked_in_window = 0;  // kAcked slots
  std::deque<Pending> pending;   // by deadline
  std::deque<uint64_t> redeliver;
  bool throttled = false;

  uint64_t InFlight() const { return (next - cursor - 1) - acked_in_window; }
  uint64_t MaxInFlight() const { return kBatchesInFlight * max_batch; }
};

class SqliteMessageLog::AppendOp final : public sqlite::SqliteWriter::Op {
 public:
  AppendOp(SqliteMessageLog* log, std::vector<rpc::ChatMessage> batch, Callback<Status> done)
      : log_(log), batch_(std::move(batch)), done_(std::move(done)) {}

  size_t Weight() const override { return batch_.size(); }

  Status Apply(SqliteDb& db) override {
    first_ = log_->next_offset_;
    auto st = db.Prepare("INSERT INTO log(offset, payload) VALUES(?1, ?2)");
    if (!st.ok()) return st.status();
    uint64_t offset = first_;
    for (const auto& m : batch_) {
      m.SerializeToString(&log_->scratch_);
      st->BindU(1, offset).BindBlob(2, log_->scratch_);
      Status s = db.Done(st->Step(), "log");
      st->Reset();
      if (!s.ok()) return s;  // the savepoint rollback undoes the rows
      ++offset;
    }
    log_->next_offset_ = offset;
    applied_ = true;
    return Status::Ok();
  }

  void Finish(Status status) override {
    if (status.ok()) {
      log_->Publish(first_, batch_);
    } else if (applied_) {
      // The commit failed: the offsets this op took are free again.
      log_->next_offset_ = std::min(log_->next_offset_, first_);
    }
    done_(std::move(status));
  }

 private:
  SqliteMessageLog* log_;
  std::vector<rpc::ChatMessage> batch_;
  Callback<Status> done_;
  uint64_t first_ = 0;
  bool applied_ = false;
};

StatusOr<std::unique_ptr<SqliteMessageLog>> SqliteMessageLog::Open(const std::string& path,
                                                                   const StorageOptions& options,
                                                                   const Clock& clock) {
  auto db = SqliteDb::Open(path, SqliteDb::Mode::kWriter);
  if (!db.ok()) return db.status();
  SqliteDb& w = **db;
  {
    auto st = w.Prepare("PRAGMA user_version");
    if (!st.ok()) return st.status();
    if (st->Step() != SQLITE_ROW || st->Int(0) > kSchemaVersion) {
      return Status::Internal("message log schema is not supported by this build");
    }
  }
  Status s = w.Exec(kSchema);
  if (!s.ok()) return s;

  std::unique_ptr<SqliteMessageLog> log(new SqliteMessageLog(options, clock));
  uint64_t min_offset = 0, max_offset = 0;
  {
    auto st = w.Prepare("SELECT MIN(offset), MAX(offset) FROM log");
    if (!st.ok()) return st.status();
    if (st->Step() == SQLITE_ROW && !st->IsNull(0)) {
      min_offset = st->UInt(0);
      max_offset = st->UInt(1);
    }
  }
  uint64_t last = max_offset;
  uint64_t min_cursor = std::numeric_limits<uint64_t>::max();
  {
    auto st = w.Prepare("SELECT grp, offset FROM cursors");
    if (!st.ok()) return st.status();
    int rc;
    while ((rc = st->Step()) == SQLITE_ROW) {
      uint64_t c = st->UInt(1);
      log->stored_cursors_.emplace(std::string(st->Text(0)), c);
      last = std::max(last, c);
      min_cursor = std::min(min_cursor, c);
    }
    if (rc != SQLITE_DONE) return w.Error(rc, "cursors");
  }
  // Offsets never go back, even when the log was trimmed empty.
  log->next_offset_ = last + 1;
  log->committed_ = last;
  log->deleted_upto_ = max_offset == 0 ? last : min_offset - 1;
  log->trimmed_upto_ =
      log->stored_cursors_.empty() ? log->deleted_upto_ : std::max(log->deleted_upto_, min_cursor);
  log->cache_base_ = last + 1;

  auto read_db = SqliteDb::Open(path, SqliteDb::Mode::kReader);
  if (!read_db.ok()) return read_db.status();
  log->read_db_ = std::move(read_db).value();
  SqliteMessageLog* p = log.get();
  log->writer_ = std::make_unique<sqlite::SqliteWriter>(
      std::move(db).value(), options.commit_batch_max,
      [p](SqliteDb& d, bool closing) { p->Maintain(d, closing); }, kMaintenanceMs);
  log->delivery_ = std::thread([p] {
    NameThisThread("deliver-log.db");
    p->DeliveryLoop();
  });
  return log;
}

SqliteMessageLog::SqliteMessageLog(const StorageOptions& options, const Clock& clock)
    : clock_(clock), redelivery_ns_(std::max<int64_t>(options.log_redelivery_ms, 1) * 1'000'000) {}

SqliteMessageLog::~SqliteMessageLog() { Close(); }

void SqliteMessageLog::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    stop_delivery_ = true;
  }
  delivery_cv_.notify_all();
  if (delivery_.joinable()) delivery_.join();
  // Completes queued appends, then persists the cursors one last time.
  if (writer_) writer_->Close();
}

// --- appending (writer thread) ---

void SqliteMessageLog::Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) {
  if (batch.empty()) {
    done(Status::Ok());
    return;
  }
  writer_->Submit(std::make_unique<AppendOp>(this, std::move(batch), std::move(done)));
}

void SqliteMessageLog::Publish(uint64_t first, std::vector<rpc::ChatMessage>& batch) {
  {
    std::lock_guard lock(cache_mu_);
    if (cache_.empty()) cache_base_ = first;
    for (size_t i = 0; i < batch.size(); ++i) {
      // Beyond the cap the slowest group reads the oldest entries from SQLite.
      if (cache_.size() == kCacheMax) {
        cache_.pop_front();
        ++cache_base_;
      }
      cache_.push_back(first + i, std::move(batch[i]));
    }
  }
  {
    std::lock_guard lock(mu_);
    committed_ = first + batch.size() - 1;
  }
  delivery_cv_.notify_one();
}

void SqliteMessageLog::Maintain(SqliteDb& db, bool closing) {
  const auto now = std::chrono::steady_clock::now();
  flush_.clear();
  uint64_t trim_to = deleted_upto_;
  {
    std::lock_guard lock(mu_);
    uint64_t min_cursor = std::numeric_limits<uint64_t>::max();
    for (auto& [name, g] : groups_) {
      if (!g->persisted_valid || g->persisted != g->cursor) flush_.emplace_back(name, g->cursor);
      min_cursor = std::min(min_cursor, g->cursor);
    }
    for (const auto& [name, c] : stored_cursors_) min_cursor = std::min(min_cursor, c);
    // Nothing is trimmed until some group is known.
    if (min_cursor != std::numeric_limits<uint64_t>::max()) {
      trimmed_upto_ = std::max(trimmed_upto_, min_cursor);
    }
    if (trimmed_upto_ > deleted_upto_ && (closing || now - last_trim_ >= kTrimInterval ||
                                          trimmed_upto_ - deleted_upto_ >= kTrimChunk)) {
      trim_to = std::min(trimmed_upto_, deleted_upto_ + kTrimChunk);
    }
  }
  if (flush_.empty() && trim_to == deleted_upto_) return;

  Status s = db.Run("BEGIN IMMEDIATE");
  for (size_t i = 0; s.ok() && i < flush_.size(); ++i) {
    auto st = db.Prepare(
        "INSERT INTO cursors(grp, offset) VALUES(?1, ?2) "
        "ON CONFLICT(grp) DO UPDATE SET offset = excluded.offset");
    if (!st.ok()) {
      s = st.status();
      break;
    }
    st->BindText(1, flush_[i].first).BindU(2, flush_[i].second);
    s = db.Done(st->Step(), "cursors");
  }
  if (s.ok() && trim_to > deleted_upto_) {
    auto st = db.Prepare("DELETE FROM log WHERE offset <= ?1");
    if (st.ok()) {
      st->BindU(1, trim_to);
      s = db.Done(st->Step(), "log");
    } else {
      s = st.status();
    }
  }
  if (s.ok()) s = db.Run("COMMIT");
  if (!s.ok()) {
    if (!db.AutoCommit()) db.Run("ROLLBACK");
    spdlog::warn("event=log_maintenance_failed error=\"{}\"", s.message());
    return;
  }
  if (trim_to > deleted_upto_) {
    deleted_upto_ = trim_to;
    last_trim_ = now;
  }
  std::lock_guard lock(mu_);
  for (const auto& [name, c] : flush_) {
    auto it = groups_.find(name);
    if (it == groups_.end()) continue;
    it->second->persisted = c;
    it->second->persisted_valid = true;
  }
}

// --- consuming ---

void SqliteMessageLog::Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                                 std::function<void(std::vector<LogEntry>)> handler) {
  auto h = std::make_shared<const std::function<void(std::vector<LogEntry>)>>(std::move(handler));
  {
    std::lock_guard lock(mu_);
    auto it = groups_.find(group);
    if (it != groups_.end()) {
      it->second->handler = std::move(h);
      it->second->max_batch = std::max<uint32_t>(max_batch, 1);
    } else {
      auto g = std::make_unique<Group>();
      g->name = group;
      g->max_batch = std::max<uint32_t>(max_batch, 1);
      g->handler = std::move(h);
      auto stored = stored_cursors_.find(group);
      if (stored != stored_cursors_.end()) {
        g->cursor = stored->second;
        g->persisted = stored->second;
        g->persisted_valid = true;
        stored_cursors_.erase(stored);
      } else {
        // A new group: its cursor is persisted at the next maintenance, from
        // when on it holds back trimming.
        g->cursor = from_tail ? committed_ : trimmed_upto_;
      }
      g->next = g->cursor + 1;
      groups_.emplace(std::move(group), std::move(g));
    }
  }
  delivery_cv_.notify_one();
}

void SqliteMessageLog::Ack(const std::string& group, const std::vector<uint64_t>& offsets) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    auto it = groups_.find(group);
    if (it == groups_.end()) return;
    Group& g = *it->second;
    for (uint64_t o : offsets) AckLocked(g, o);
    while (!g.slots.empty() && g.slots.front() == kAcked) {
      g.slots.pop_front();
      ++g.cursor;
      --g.acked_in_window;
    }
    if (g.throttled && g.InFlight() < g.MaxInFlight() && g.next - g.cursor <= kMaxWindow) {
      g.throttled = false;
      wake = true;
    }
  }
  if (wake) delivery_cv_.notify_one();
}

void SqliteMessageLog::AckLocked(Group& g, uint64_t offset) {
  if (offset <= g.cursor || offset >= g.next) return;
  int64_t& slot = g.slots[offset - g.cursor - 1];
  if (slot == kAcked) return;
  slot = kAcked;
  ++g.acked_in_window;
}

uint64_t SqliteMessageLog::Lag(const std::string& group) const {
  std::lock_guard lock(mu_);
  if (auto it = groups_.find(group); it != groups_.end()) {
    return committed_ - it->second->cursor - it->second->acked_in_window;
  }
  if (auto it = stored_cursors_.find(group); it != stored_cursors_.end()) {
    return committed_ - std::min(committed_, it->second);
  }
  return committed_ - std::min(committed_, trimmed_upto_);
}

// --- delivery thread ---

void SqliteMessageLog::DeliveryLoop() {
  std::vector<Job> jobs;
  std::unique_lock lock(mu_);
  while (!stop_delivery_) {
    bool timed = false;
    const int64_t now = clock_.MonotonicNs();
    for (auto& [name, g] : groups_) {
      Job job;
      if (PlanGroupLocked(*g, now, job)) jobs.push_back(std::move(job));
      timed = timed || !g->pending.empty() || !g->redeliver.empty();
    }
    if (jobs.empty()) {
      if (timed) {
        delivery_cv_.wait_for(lock, kTick);
      } else {
        delivery_cv_.wait(lock);
      }
      continue;
    }
    lock.unlock();
    for (auto& job : jobs) Deliver(job);
    jobs.clear();
    EvictCache();
    lock.lock();
  }
}

bool SqliteMessageLog::PlanGroupLocked(Group& g, int64_t now, Job& job) {
  while (!g.pending.empty() && g.pending.front().hi <= g.cursor) g.pending.pop_front();
  while (!g.pending.empty() && g.pending.front().deadline <= now) {
    const auto p = g.pending.front();
    g.pending.pop_front();
    for (uint64_t o = std::max(p.lo, g.cursor + 1); o <= p.hi && o < g.next; ++o) {
      int64_t& slot = g.slots[o - g.cursor - 1];
      // A later delivery of `o` has its own, later deadline.
      if (slot >= 0 && slot <= now) {
        slot = kQueued;
        g.redeliver.push_back(o);
      }
    }
  }
  const int64_t deadline = now + redelivery_ns_;
  while (!g.redeliver.empty() && job.offsets.size() < g.max_batch) {
    uint64_t o = g.redeliver.front();
    g.redeliver.pop_front();
    if (o <= g.cursor) continue;
    int64_t& slot = g.slots[o - g.cursor - 1];
    if (slot != kQueued) continue;  // acked meanwhile
    slot = deadline;
    job.offsets.push_back(o);
  }
  if (!job.offsets.empty()) {
    std::sort(job.offsets.begin(), job.offsets.end());
    g.pending.push_back({job.offsets.front(), job.offsets.back(), deadline});
    job.group = &g;
    job.handler = g.handler;
    return true;
  }
  if (g.next > committed_) return false;
  if (g.InFlight() >= g.MaxInFlight() || g.next - g.cursor > kMaxWindow) {
    g.throttled = true;
    return false;
  }
  const uint64_t hi = std::min(committed_, g.next + g.max_batch - 1);
  g.slots.insert(g.slots.end(), hi - g.next + 1, deadline);
  g.pending.push_back({g.next, hi, deadline});
  job.group = &g;
  job.handler = g.handler;
  job.lo = g.next;
  job.hi = hi;
  g.next = hi + 1;
  return true;
}

void SqliteMessageLog::Deliver(Job& job) {
  std::vector<LogEntry> batch;
  std::vector<uint64_t> lost;
  if (job.offsets.empty()) {
    batch.reserve(job.hi - job.lo + 1);
    ReadRange(job.lo, job.hi, batch, lost);
  } else {
    batch.reserve(job.offsets.size());
    for (uint64_t o : job.offsets) ReadRange(o, o, batch, lost);
  }
  if (!lost.empty()) {
    // Unreadable entries would be redelivered forever and pin the cursor.
    spdlog::error("event=log_entries_lost group={} count={} first={}", job.group->name, lost.size(),
                  lost.front());
    Ack(job.group->name, lost);
  }
  if (!batch.empty()) (*job.handler)(std::move(batch));
}

void SqliteMessageLog::ReadRange(uint64_t lo, uint64_t hi, std::vector<LogEntry>& out,
                                 std::vector<uint64_t>& lost) {
  // Every committed entry is in the cache or in SQLite (an evicted entry was
  // committed first, and only acked entries are trimmed). The writer may
  // evict meanwhile, so the cache's base is checked again after each read.
  uint64_t o = lo;
  while (o <= hi) {
    uint64_t base;
    {
      std::lock_guard lock(cache_mu_);
      if (o >= cache_base_) {
        for (; o <= hi; ++o) out.push_back(cache_[o - cache_base_]);
        return;
      }
      base = cache_base_;
    }
    const uint64_t db_hi = std::min(hi, base - 1);
    ReadStored(o, db_hi, out, lost);
    o = db_hi + 1;
  }
}

void SqliteMessageLog::ReadStored(uint64_t lo, uint64_t hi, std::vector<LogEntry>& out,
                                  std::vector<uint64_t>& lost) {
  auto st = read_db_->Prepare(
      "SELECT offset, payload FROM log WHERE offset >= ?1 AND offset <= ?2 ORDER BY offset");
  if (!st.ok()) {
    spdlog::error("event=log_read_failed error=\"{}\"", st.status().message());
    return;  // not lost: redelivered after the timeout
  }
  st->BindU(1, lo).BindU(2, hi);
  uint64_t expect = lo;
  int rc;
  while ((rc = st->Step()) == SQLITE_ROW) {
    const uint64_t offset = st->UInt(0);
    for (; expect < offset; ++expect) lost.push_back(expect);
    expect = offset + 1;
    const auto payload = st->Blob(1);
    LogEntry& e = out.emplace_back();
    e.offset = offset;
    if (!e.message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      out.pop_back();
      lost.push_back(offset);
    }
  }
  if (rc != SQLITE_DONE) {
    spdlog::error("event=log_read_failed error=\"{}\"", read_db_->Error(rc, "log").message());
    return;
  }
  for (; expect <= hi; ++expect) lost.push_back(expect);
}

void SqliteMessageLog::EvictCache() {
  uint64_t min_cursor = std::numeric_limits<uint64_t>::max();
  {
    std::lock_guard lock(mu_);
    if (groups_.empty()) return;
    for (const auto& [name, g] : groups_) min_cursor = std::min(min_cursor, g->cursor);
  }
  std::lock_guard lock(cache_mu_);
  while (!cache_.empty() && cache_base_ <= min_cursor) {
    cache_.pop_front();
    ++cache_base_;
  }
}

}  // namespace parley::queue

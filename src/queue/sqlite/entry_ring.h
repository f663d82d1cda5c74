// EntryRing: a growable ring buffer of log entries, the message log's
// in-memory tail. Slots are reused: pushing moves the message into an
// existing slot (a protobuf move is a swap), so a steady stream of entries
// allocates nothing here. Not thread-safe (the log guards it with a mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "queue/message_log.h"

namespace parley::queue {

class EntryRing {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // The i-th entry from the front; i < size().
  const LogEntry& operator[](size_t i) const { return buf_[(head_ + i) & (buf_.size() - 1)]; }

  void push_back(uint64_t offset, rpc::ChatMessage&& message) {
    if (size_ == buf_.size()) Grow();
    LogEntry& e = buf_[(head_ + size_) & (buf_.size() - 1)];
    e.offset = offset;
    e.message = std::move(message);
    ++size_;
  }
  // The slot keeps its message until it is reused.
  void pop_front() {
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
  }

 private:
  void Grow() {
    std::vector<LogEntry> bigger(buf_.empty() ? 64 : buf_.size() * 2);  // a power of two
    for (size_t i = 0; i < size_; ++i) {
      LogEntry& from = buf_[(head_ + i) & (buf_.size() - 1)];
      bigger[i].offset = from.offset;
      bigger[i].message = std::move(from.message);
    }
    buf_.swap(bigger);
    head_ = 0;
  }

  std::vector<LogEntry> buf_;  // size is zero or a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace parley::queue

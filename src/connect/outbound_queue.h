// The frames waiting to be written to one WebSocket connection, with their
// total size so that a slow consumer is noticed before memory grows. Frames
// are shared, immutable buffers (a pushed message is serialized once for all
// of its recipients). Not thread-safe: owned by one session, used on its
// strand. The node-wide byte total it adds to (if any) is an atomic shared by
// every queue of the node, and must outlive the queue.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace parley::connect {

using Frame = std::shared_ptr<const std::string>;

class OutboundQueue {
 public:
  // `total`: the bytes of every queue of a node, kept up to date by each
  // (nullptr: none).
  explicit OutboundQueue(std::atomic<int64_t>* total = nullptr) : total_(total) {}
  ~OutboundQueue() { Account(-static_cast<int64_t>(bytes_)); }
  OutboundQueue(const OutboundQueue&) = delete;
  OutboundQueue& operator=(const OutboundQueue&) = delete;

  bool empty() const { return head_ == frames_.size(); }
  size_t size() const { return frames_.size() - head_; }
  // Bytes of every queued frame, the one being written included.
  size_t bytes() const { return bytes_; }

  void Push(Frame frame);
  // Puts `frame` before every other; only while no write is in flight.
  void PushFront(Frame frame);
  // The oldest frame; the queue must not be empty.
  const Frame& Front() const { return frames_[head_]; }
  void PopFront();
  // Drops every frame, except the oldest one when `keep_front` (a write of
  // it is in flight and its bytes must stay alive).
  void Clear(bool keep_front);

 private:
  void Account(int64_t delta) {
    if (total_ != nullptr && delta != 0) total_->fetch_add(delta, std::memory_order_relaxed);
  }

  // A vector with a moving head rather than std::deque: an empty deque still
  // holds a 512-byte block, and most connections are idle with nothing
  // queued. The storage is released when the queue empties. Frames are
  // contiguous, so a writer could later gather several into one socket write.
  std::vector<Frame> frames_;
  size_t head_ = 0;
  size_t bytes_ = 0;
  std::atomic<int64_t>* const total_;
};

}  // namespace parley::connect

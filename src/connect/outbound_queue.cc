#include "connect/outbound_queue.h"

#include <utility>

namespace parley::connect {

namespace {
// Storage beyond this many slots is given back once the queue empties.
constexpr size_t kKeepSlots = 8;
}  // namespace

void OutboundQueue::Push(Frame frame) {
  bytes_ += frame->size();
  Account(static_cast<int64_t>(frame->size()));
  // Reuse the slots before the head instead of growing, when it is cheap.
  if (head_ > 0 && head_ >= frames_.size() / 2) {
    frames_.erase(frames_.begin(), frames_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
  frames_.push_back(std::move(frame));
}

void OutboundQueue::PushFront(Frame frame) {
  bytes_ += frame->size();
  Account(static_cast<int64_t>(frame->size()));
  if (head_ > 0) {
    frames_[--head_] = std::move(frame);
  } else {
    frames_.insert(frames_.begin(), std::move(frame));
  }
}

void OutboundQueue::PopFront() {
  bytes_ -= frames_[head_]->size();
  Account(-static_cast<int64_t>(frames_[head_]->size()));
  frames_[head_].reset();
  ++head_;
  if (head_ == frames_.size()) {
    head_ = 0;
    if (frames_.capacity() > kKeepSlots) {
      std::vector<Frame>().swap(frames_);
    } else {
      frames_.clear();
    }
  }
}

void OutboundQueue::Clear(bool keep_front) {
  if (empty()) return;
  const size_t before = bytes_;
  if (keep_front) {
    Frame front = std::move(frames_[head_]);
    std::vector<Frame>().swap(frames_);
    head_ = 0;
    bytes_ = front->size();
    frames_.push_back(std::move(front));
    Account(static_cast<int64_t>(bytes_) - static_cast<int64_t>(before));
    return;
  }
  std::vector<Frame>().swap(frames_);
  head_ = 0;
  bytes_ = 0;
  Account(-static_cast<int64_t>(before));
}

}  // namespace parley::connect

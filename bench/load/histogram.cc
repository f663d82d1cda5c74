#include "load/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace parley::bench {

int Histogram::BucketOf(uint64_t v) {
  if (v < kExact) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);  // >= kSubBits + 1
  int shift = msb - kSubBits;
  uint64_t sub = (v >> shift) - (1u << kSubBits);  // 0..127
  return static_cast<int>(kExact + static_cast<uint64_t>(shift - 1) * (1u << kSubBits) + sub);
}

uint64_t Histogram::BucketLow(int b) {
  if (b < static_cast<int>(kExact)) return static_cast<uint64_t>(b);
  uint64_t i = static_cast<uint64_t>(b) - kExact;
  int shift = static_cast<int>(i >> kSubBits) + 1;
  uint64_t sub = (i & ((1u << kSubBits) - 1)) + (1u << kSubBits);
  return sub << shift;
}

uint64_t Histogram::BucketHigh(int b) {
  if (b < static_cast<int>(kExact)) return static_cast<uint64_t>(b);
  int shift = static_cast<int>((static_cast<uint64_t>(b) - kExact) >> kSubBits) + 1;
  return BucketLow(b) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Record(int64_t value) {
  if (value < 0) value = 0;
  ++counts_[BucketOf(static_cast<uint64_t>(value))];
  ++count_;
  sum_ += static_cast<uint64_t>(value);
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::Reset() { *this = Histogram(); }

int64_t Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      uint64_t mid = BucketLow(b) + (BucketHigh(b) - BucketLow(b)) / 2;
      return std::clamp(static_cast<int64_t>(mid), min_, max_);
    }
  }
  return max_;
}

}  // namespace parley::bench

// A log-linear latency histogram (HdrHistogram's layout, fixed precision):
// values below 256 are counted exactly, above that each power of two is cut
// into 128 equal buckets, so a reported value is within 0.4% of the true one
// (half a bucket). Fixed size (about 60 KB), so Record() never allocates.
// Not thread-safe: one per thread, merged at the end.
#pragma once

#include <array>
#include <cstdint>

namespace parley::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 7;                  // 128 buckets per power of two
  static constexpr uint64_t kExact = 2u << kSubBits;  // values below are exact
  static constexpr int kBuckets = kExact + (63 - kSubBits) * (1 << kSubBits);

  // Values are unsigned (ns); negative inputs are clamped to 0.
  void Record(int64_t value);
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }
  // The value at quantile q (0..1): the midpoint of the bucket holding the
  // ceil(q * count)-th smallest value, clamped to [min, max]. 0 when empty.
  int64_t Quantile(double q) const;

  // Bucket arithmetic, exposed for tests.
  static int BucketOf(uint64_t value);
  static uint64_t BucketLow(int bucket);
  static uint64_t BucketHigh(int bucket);  // inclusive

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  // Sum in ns fits 64 bits for 2^64 / 1e9 s = 584 years of summed latency.
  uint64_t sum_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace parley::bench

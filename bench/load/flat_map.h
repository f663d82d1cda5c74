// An open-addressing hash map from uint64 keys to uint64 values with linear
// probing. It allocates only when it doubles, never per insert, which keeps
// per-message bookkeeping off the heap. The key ~0 is reserved (empty slot).
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley::bench {

class FlatMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  explicit FlatMap(size_t capacity = 16) { Rehash(RoundUp(capacity * 2)); }

  // The value for `key`, inserted as 0 when absent.
  uint64_t& operator[](uint64_t key) {
    if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
    Slot& s = Probe(key);
    if (s.key == kEmpty) {
      s.key = key;
      s.value = 0;
      ++size_;
    }
    return s.value;
  }
  const uint64_t* Find(uint64_t key) const {
    const Slot& s = const_cast<FlatMap*>(this)->Probe(key);
    return s.key == kEmpty ? nullptr : &s.value;
  }
  size_t size() const { return size_; }

  template <typename F>
  void ForEach(F f) const {
    for (const Slot& s : slots_) {
      if (s.key != kEmpty) f(s.key, s.value);
    }
  }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };

  static size_t RoundUp(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
  }
  static uint64_t Mix(uint64_t k) {  // splitmix64 finalizer
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebULL;
    return k ^ (k >> 31);
  }
  Slot& Probe(uint64_t key) {
    size_t mask = slots_.size() - 1;
    for (size_t i = Mix(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key || slots_[i].key == kEmpty) return slots_[i];
    }
  }
  void Rehash(size_t n) {
    std::vector<Slot> old(n);
    old.swap(slots_);
    size_ = 0;
    for (const Slot& s : old) {
      if (s.key != kEmpty) (*this)[s.key] = s.value;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace parley::bench

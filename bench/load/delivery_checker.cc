#include "load/delivery_checker.h"

#include <algorithm>
#include <charconv>
#include <numeric>

namespace parley::bench {

namespace {

bool ParseId(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

uint64_t ConvKey(std::string_view conv) {
  if (conv.size() < 3 || conv[1] != ':') return 0;
  if (conv[0] == 'g') {
    uint64_t g = 0;
    if (!ParseId(conv.substr(2), &g) || g == 0 || g >= (uint64_t{1} << 53)) return 0;
    return GroupConvKey(g);
  }
  if (conv[0] != 'p') return 0;
  std::string_view rest = conv.substr(2);
  size_t colon = rest.find(':');
  uint64_t a = 0, b = 0;
  if (colon == std::string_view::npos || !ParseId(rest.substr(0, colon), &a) ||
      !ParseId(rest.substr(colon + 1), &b)) {
    return 0;
  }
  if (a == 0 || a > b || b >= (uint64_t{1} << 31)) return 0;
  return PrivateConvKey(a, b);
}

void DeliveryTally::Merge(const DeliveryTally& o) {
  sent += o.sent;
  acked += o.acked;
  refused += o.refused;
  unacked += o.unacked;
  lost += o.lost;
  duplicated += o.duplicated;
  out_of_order += o.out_of_order;
  mismatched += o.mismatched;
  unknown += o.unknown;
  seq_gaps += o.seq_gaps;
  seq_reused += o.seq_reused;
  send_order += o.send_order;
}

DeliveryChecker::DeliveryChecker(uint32_t connections) : last_seq_(connections) {}

void DeliveryChecker::Reserve(size_t more) {
  if (records_.size() + more > records_.capacity()) records_.reserve(records_.size() + more);
}

uint64_t DeliveryChecker::OnSend(int64_t now_ns, uint64_t conv, uint32_t sender, uint16_t expected,
                                 uint16_t tag, bool measured) {
  records_.push_back(Record{now_ns, conv, 0, sender, expected, 0, tag, kPending, measured});
  ++tally_.sent;
  return records_.size() - 1;
}

int64_t DeliveryChecker::OnAck(uint64_t index, uint64_t conv, uint64_t seq, int64_t now_ns) {
  if (index >= records_.size()) {
    ++tally_.unknown;
    return -1;
  }
  Record& r = records_[index];
  if (r.state != kPending) {
    ++tally_.duplicated;  // a second answer to one send
    return -1;
  }
  if (conv != r.conv || seq == 0 || (r.seq != 0 && r.seq != seq)) ++tally_.mismatched;
  r.state = kAcked;
  r.seq = static_cast<uint32_t>(seq);
  ++tally_.acked;
  expected_ += r.expected;
  // Pushes may overtake the ack.
  received_ += std::min(r.received, r.expected);
  if (r.received > r.expected) tally_.duplicated += r.received - r.expected;
  return now_ns - r.send_ns;
}

void DeliveryChecker::OnRefused(uint64_t index) {
  if (index >= records_.size()) {
    ++tally_.unknown;
    return;
  }
  Record& r = records_[index];
  if (r.state != kPending) {
    ++tally_.duplicated;
    return;
  }
  r.state = kRefused;
  ++tally_.refused;
  // A refused send must not have been delivered.
  if (r.received > 0) tally_.mismatched += r.received;
}

int64_t DeliveryChecker::OnDelivery(uint32_t receiver, uint64_t index, uint64_t conv, uint64_t seq,
                                    int64_t now_ns) {
  if (index >= records_.size() || receiver >= last_seq_.size()) {
    ++tally_.unknown;
    return -1;
  }
  Record& r = records_[index];
  if (conv != r.conv || seq == 0 || (r.seq != 0 && r.seq != seq)) {
    ++tally_.mismatched;
    return -1;
  }
  uint64_t& last = last_seq_[receiver][conv];
  if (seq <= last) {
    // A connection sees each seq once, ascending: a repeat of the latest or
    // of a message already fully delivered is a duplicate, anything else
    // arrived late, out of order.
    if (seq == last || (r.state == kAcked && r.received >= r.expected)) {
      ++tally_.duplicated;
    } else {
      ++tally_.out_of_order;
    }
    return -1;
  }
  last = seq;
  if (r.seq == 0) r.seq = static_cast<uint32_t>(seq);
  ++r.received;
  if (r.state == kAcked) {
    if (r.received <= r.expected) {
      ++received_;
    } else {
      ++tally_.duplicated;  // more connections got it than should have
    }
  } else if (r.state == kRefused) {
    ++tally_.mismatched;
  }
  return now_ns - r.send_ns;
}

DeliveryTally DeliveryChecker::Finish() const {
  DeliveryTally t = tally_;
  std::vector<uint32_t> acked;
  acked.reserve(tally_.acked);
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (r.state == kPending) ++t.unacked;
    if (r.state != kAcked) continue;
    if (r.received < r.expected) t.lost += r.expected - r.received;
    acked.push_back(static_cast<uint32_t>(i));
  }
  // Every conversation's acked seqs: contiguous and unique.
  std::sort(acked.begin(), acked.end(), [&](uint32_t x, uint32_t y) {
    const Record& a = records_[x];
    const Record& b = records_[y];
    return a.conv != b.conv ? a.conv < b.conv : a.seq < b.seq;
  });
  for (size_t i = 1; i < acked.size(); ++i) {
    const Record& prev = records_[acked[i - 1]];
    const Record& cur = records_[acked[i]];
    if (prev.conv != cur.conv) continue;
    if (cur.seq == prev.seq) {
      ++t.seq_reused;
    } else if (cur.seq != prev.seq + 1) {
      t.seq_gaps += cur.seq - prev.seq - 1;
    }
  }
  // One connection's sends to one conversation: seqs in the order sent.
  std::stable_sort(acked.begin(), acked.end(), [&](uint32_t x, uint32_t y) {
    const Record& a = records_[x];
    const Record& b = records_[y];
    if (a.conv != b.conv) return a.conv < b.conv;
    if (a.sender != b.sender) return a.sender < b.sender;
    return x < y;
  });
  for (size_t i = 1; i < acked.size(); ++i) {
    const Record& prev = records_[acked[i - 1]];
    const Record& cur = records_[acked[i]];
    if (prev.conv == cur.conv && prev.sender == cur.sender && cur.seq <= prev.seq) ++t.send_order;
  }
  return t;
}

}  // namespace parley::bench

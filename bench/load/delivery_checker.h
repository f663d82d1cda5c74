// Checks every send of a run: acked or refused, delivered to each expected
// connection exactly once, and seen by each connection in seq order per
// conversation. Each send gets an index (its client message id, echoed in
// the ack and in the pushed message); its record lives in a vector reserved
// ahead of each step, so the hot path allocates nothing.
//
// Definitions (docs/wire-protocol.md): lost = acked but never received by an expected
// connection; duplicated = received twice by one connection; out of order =
// a connection saw a lower seq of a conversation after a higher one.
// Not thread-safe: one per event loop.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "load/flat_map.h"

namespace parley::bench {

// Packs a conversation id into 64 bits: "p:a:b" -> a << 32 | b, "g:N" ->
// 1 << 63 | N. 0 when malformed or out of range.
uint64_t ConvKey(std::string_view conv);
inline uint64_t PrivateConvKey(uint64_t x, uint64_t y) {
  return x <= y ? (x << 32 | y) : (y << 32 | x);
}
inline uint64_t GroupConvKey(uint64_t group_id) { return uint64_t{1} << 63 | group_id; }

struct DeliveryTally {
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t refused = 0;  // answered with an error frame
  uint64_t unacked = 0;  // neither ack nor error by the end
  uint64_t lost = 0;     // deliveries missing for acked sends
  uint64_t duplicated = 0;
  uint64_t out_of_order = 0;
  uint64_t mismatched = 0;  // ack/push naming another conversation or seq than expected
  uint64_t unknown = 0;     // a push or ack with an id this run never used
  uint64_t seq_gaps = 0;    // acked seqs of a conversation not contiguous
  uint64_t seq_reused = 0;  // two acked sends with the same (conv, seq)
  uint64_t send_order = 0;  // one connection's sends to a conversation acked out of order

  bool clean() const {
    return unacked == 0 && lost == 0 && duplicated == 0 && out_of_order == 0 && mismatched == 0 &&
           unknown == 0 && seq_gaps == 0 && seq_reused == 0 && send_order == 0;
  }
  void Merge(const DeliveryTally& o);
};

class DeliveryChecker {
 public:
  explicit DeliveryChecker(uint32_t connections);

  // Makes room for `more` sends beyond those recorded so far.
  void Reserve(size_t more);

  // Records a send and returns its index. `expected` connections should get
  // it pushed. `tag` is the caller's (e.g. the step) and comes back from
  // tag_of().
  uint64_t OnSend(int64_t now_ns, uint64_t conv, uint32_t sender, uint16_t expected, uint16_t tag,
                  bool measured);
  // An ack: returns the ack latency in ns, or -1 when the ack does not fit
  // (unknown index, already answered, other conversation).
  int64_t OnAck(uint64_t index, uint64_t conv, uint64_t seq, int64_t now_ns);
  void OnRefused(uint64_t index);
  // A push received by connection `receiver`: returns the latency since the
  // send in ns, or -1 when the push is a duplicate, out of order or unknown.
  int64_t OnDelivery(uint32_t receiver, uint64_t index, uint64_t conv, uint64_t seq,
                     int64_t now_ns);

  bool measured(uint64_t index) const { return records_[index].measured; }
  uint16_t tag_of(uint64_t index) const { return records_[index].tag; }
  size_t size() const { return records_.size(); }

  // Acks and deliveries still awaited (0 when everything is in).
  uint64_t outstanding() const {
    return (tally_.sent - tally_.acked - tally_.refused) + (expected_ - received_);
  }
  uint64_t deliveries_expected() const { return expected_; }

  // The final account: lost and unacked counted now, and every
  // conversation's acked seqs checked for gaps, reuse and send order.
  DeliveryTally Finish() const;
  const DeliveryTally& running() const { return tally_; }

 private:
  enum : uint8_t { kPending, kAcked, kRefused };
  struct Record {
    int64_t send_ns;
    uint64_t conv;
    uint32_t seq;
    uint32_t sender;
    uint16_t expected;
    uint16_t received;
    uint16_t tag;
    uint8_t state;
    bool measured;
  };
  static_assert(sizeof(Record) == 32);

  std::vector<Record> records_;
  std::vector<FlatMap> last_seq_;  // per receiving connection: conv -> last seq seen
  DeliveryTally tally_;
  uint64_t expected_ = 0;  // deliveries owed by acked sends
  uint64_t received_ = 0;  // of those, received (at most `expected` per send)
};

}  // namespace parley::bench

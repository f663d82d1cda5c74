#include "logic/conversation_page.h"

#include <algorithm>
#include <charconv>

#include "model/conversation.h"

namespace parley::logic {

namespace {

// Whether a comes before b in a listing. Ties (mostly groups without
// messages, last_ts 0) put the larger id first: the newer group, as the store
// orders them by creation.
bool Newer(int64_t a_ts, std::string_view a_conv, int64_t b_ts, std::string_view b_conv) {
  if (a_ts != b_ts) return a_ts > b_ts;
  if (a_conv.size() != b_conv.size()) return a_conv.size() > b_conv.size();
  return a_conv > b_conv;
}

// "<last_ts>~<conv>": readable in logs, and no conversation id has a '~'.
std::string CursorOf(const rpc::ConvState& c) {
  return std::to_string(c.last_ts()) + "~" + c.conv();
}

Status BadCursor() { return Status::InvalidArgument("before is not a cursor from a listing"); }

}  // namespace

StatusOr<ConversationPage> PageConversations(std::vector<rpc::ConvState> all,
                                             std::string_view before, size_t limit) {
  int64_t after_ts = 0;
  std::string_view after_conv;
  if (!before.empty()) {
    size_t sep = before.find('~');
    if (sep == std::string_view::npos) return BadCursor();
    std::string_view ts = before.substr(0, sep);
    auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), after_ts);
    if (ec != std::errc() || end != ts.data() + ts.size() || after_ts < 0) return BadCursor();
    after_conv = before.substr(sep + 1);
    if (!model::ConvId::Parse(after_conv)) return BadCursor();
  }
  std::sort(all.begin(), all.end(), [](const rpc::ConvState& a, const rpc::ConvState& b) {
    return Newer(a.last_ts(), a.conv(), b.last_ts(), b.conv());
  });
  auto first = all.begin();
  if (!before.empty()) {
    first = std::partition_point(all.begin(), all.end(), [&](const rpc::ConvState& c) {
      return !Newer(after_ts, after_conv, c.last_ts(), c.conv());
    });
  }
  ConversationPage page;
  const size_t left = static_cast<size_t>(all.end() - first);
  const size_t n = std::min(left, limit);
  page.convs.assign(std::make_move_iterator(first), std::make_move_iterator(first + n));
  page.has_more = left > n;
  if (page.has_more && !page.convs.empty()) page.next = CursorOf(page.convs.back());
  return page;
}

}  // namespace parley::logic

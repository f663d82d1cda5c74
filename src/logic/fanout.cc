#include "logic/fanout.h"

#include <map>

#include <spdlog/spdlog.h>

namespace parley::logic {

void Fanout::PushRead(rpc::ReadReceipt receipt, std::vector<uint64_t> users) {
  std::vector<uint64_t> asked = users;
  deps_.presence.Lookup(std::move(asked),
                        [this, receipt = std::move(receipt), users = std::move(users)](
                            StatusOr<std::vector<std::vector<presence::Connection>>> conns) {
                          if (!conns.ok()) {
                            spdlog::warn("event=read_push_skipped conv={} error=\"{}\"",
                                         receipt.conv(), conns.status().message());
                            return;
                          }
                          // One Push per node incarnation, the receipt once with every user on it.
                          std::map<std::pair<std::string, uint64_t>, rpc::PushRequest> by_node;
                          for (size_t i = 0; i < conns->size(); ++i) {
                            for (const presence::Connection& c : (*conns)[i]) {
                              rpc::PushRequest& req = by_node[{c.node_id, c.node_epoch}];
                              if (req.events_size() == 0)
                                *req.add_events()->mutable_read() = receipt;
                              auto* ids = req.mutable_events(0)->mutable_user_ids();
                              if (ids->empty() || *ids->rbegin() != users[i]) ids->Add(users[i]);
                            }
                          }
                          for (auto& [node, req] : by_node) {
                            if (auto target = deps_.connects.Find(node.first, node.second)) {
                              target->Push(std::move(req), [](rpc::PushReply) {});
                            }
                          }
                        });
}

void Fanout::KickSession(uint64_t user_id, const std::string& session_key, uint32_t close_code,
                         const std::string& reason) {
  rpc::KickRequest kick;
  kick.set_user_id(user_id);
  kick.set_session_key(session_key);
  kick.set_close_code(close_code);
  kick.set_reason(reason);
  for (const std::string& node : deps_.connects.AllNodes()) {
    if (auto target = deps_.connects.Find(node)) target->Kick(kick, [](rpc::KickReply) {});
  }
}

}  // namespace parley::logic

// What the logic tier is built on: every dependency of the Logic facade and
// its parts, each behind its seam. All must outlive the facade.
#pragma once

#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "connect/connect_service.h"
#include "presence/presence.h"
#include "queue/message_log.h"
#include "state/auth_rate_limits.h"
#include "state/group_directory.h"
#include "state/idempotency_store.h"
#include "state/recent_window.h"
#include "state/sequence_allocator.h"
#include "state/session_store.h"
#include "store/store.h"

namespace parley::logic {

struct LogicDeps {
  const Options& options;
  const Clock& clock;
  store::Store& store;
  queue::MessageLog& log;
  presence::Presence& presence;
  connect::ConnectDirectory& connects;
  Metrics& metrics;
  // State every logic node must agree on.
  state::SequenceAllocator& seqs;
  state::IdempotencyStore& sent;
  state::SessionStore& sessions;
  state::GroupDirectory& groups;
  state::RecentWindow& recent;
  // Register and login buckets (per client network, per account's failed
  // logins).
  state::AuthRateLimits& auth_limits;
};

}  // namespace parley::logic

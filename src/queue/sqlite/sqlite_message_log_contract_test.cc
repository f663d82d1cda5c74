// The MessageLog contract suite (queue/testing/message_log_contract.h)
// against SqliteMessageLog, alone and under each forwarding wrapper with no
// fault armed.
#include <memory>

#include "common/clock.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "queue/testing/fault_injecting_message_log.h"
#include "queue/testing/message_log_contract.h"
#include "queue/testing/message_log_wrapper.h"
#include "support/factory_name.h"
#include "support/test_util.h"

namespace parley::queue {
namespace {

class SqliteMessageLogFactory {
 public:
  static constexpr const char* kName = "SqliteMessageLog";

  SqliteMessageLogFactory() { options_.log_redelivery_ms = 1000; }

  StatusOr<std::unique_ptr<MessageLog>> Open() {
    auto log = SqliteMessageLog::Open(dir_.path() + "/log.db", options_, clock_);
    if (!log.ok()) return log.status();
    return std::unique_ptr<MessageLog>(std::move(log).value());
  }
  int64_t RedeliveryMs() const { return options_.log_redelivery_ms; }
  void AdvanceMs(int64_t ms) { clock_.AdvanceMs(ms); }

 private:
  parley::testing::TempDir dir_;
  StorageOptions options_;
  ManualClock clock_;
};

// `Wrapper` over a SqliteMessageLog that the factory owns; reopening reopens
// the target.
template <typename Wrapper>
class WrappedSqliteMessageLogFactory {
 public:
  StatusOr<std::unique_ptr<MessageLog>> Open() {
    target_.reset();
    auto target = target_factory_.Open();
    if (!target.ok()) return target.status();
    target_ = std::move(target).value();
    return std::unique_ptr<MessageLog>(std::make_unique<Wrapper>(target_.get()));
  }
  int64_t RedeliveryMs() const { return target_factory_.RedeliveryMs(); }
  void AdvanceMs(int64_t ms) { target_factory_.AdvanceMs(ms); }

 private:
  SqliteMessageLogFactory target_factory_;
  std::unique_ptr<MessageLog> target_;  // after the clock and temp dir: closed before they go
};

struct MessageLogWrapperFactory : WrappedSqliteMessageLogFactory<MessageLogWrapper> {
  static constexpr const char* kName = "MessageLogWrapperOverSqlite";
};
// No fault armed: it must be indistinguishable from its target.
struct FaultInjectingMessageLogFactory : WrappedSqliteMessageLogFactory<FaultInjectingMessageLog> {
  static constexpr const char* kName = "FaultInjectingMessageLogOverSqlite";
};

using Factories = ::testing::Types<SqliteMessageLogFactory, MessageLogWrapperFactory,
                                   FaultInjectingMessageLogFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, MessageLogContractTest, Factories,
                               parley::testing::FactoryName);

}  // namespace
}  // namespace parley::queue

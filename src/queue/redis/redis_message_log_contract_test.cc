// The MessageLog contract suite (queue/testing/message_log_contract.h)
// against RedisMessageLog on a real redis-server, one server per test.
//
// The seq fence is off here: the contract knows no seqs, and its
// BatchesAppendedByOneThreadKeepTheirOrder test appends one conversation from
// four threads with arbitrary seqs. The fence is tested in
// redis_message_log_test.cc.
#include <chrono>
#include <memory>
#include <thread>

#include "queue/redis/redis_message_log.h"
#include "queue/testing/message_log_contract.h"
#include "redis/testing/redis_server.h"
#include "support/factory_name.h"
#include "support/test_util.h"

namespace parley::queue {
namespace {

class RedisMessageLogFactory {
 public:
  static constexpr const char* kName = "RedisMessageLog";

  StatusOr<std::unique_ptr<MessageLog>> Open() {
    RedisMessageLogOptions options;
    options.redis.port = redis_.port();
    options.consumer = "node-1:1";  // the same process restarting
    options.seq_fence = false;
    options.redelivery_ms = kRedeliveryMs;
    options.block_ms = 200;
    auto log = RedisMessageLog::Open(std::move(options));
    if (!log.ok()) return log.status();
    return std::unique_ptr<MessageLog>(std::move(log).value());
  }
  int64_t RedeliveryMs() const { return kRedeliveryMs; }
  // Redis keeps its own time: let it pass.
  void AdvanceMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

 private:
  static constexpr uint32_t kRedeliveryMs = 800;
  redis::testing::RedisServer redis_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, MessageLogContractTest,
                               ::testing::Types<RedisMessageLogFactory>,
                               parley::testing::FactoryName);

}  // namespace
}  // namespace parley::queue

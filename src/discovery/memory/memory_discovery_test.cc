// MemoryDiscovery runs the Discovery contract suite, plus what is its own:
// watch handlers on the given executor, and a watch destroyed by its own
// handler.
#include "discovery/memory/memory_discovery.h"

#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "discovery/testing/discovery_contract.h"

namespace parley::discovery {
namespace {

namespace asio = boost::asio;

// An io_context run by two threads, so that watches really run concurrently
// with the test.
class MemoryEnv {
 public:
  MemoryEnv() {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~MemoryEnv() {
    work_.reset();
    for (auto& t : threads_) t.join();
  }
  Discovery& discovery() { return discovery_; }
  Discovery& peer() { return discovery_; }  // one process: one view
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
  MemoryDiscovery discovery_{io_.get_executor()};
};

}  // namespace

// gtest needs the instantiation in the suite's namespace.
namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, DiscoveryContractTest, MemoryEnv);
}  // namespace testing

namespace {

TEST(MemoryDiscoveryTest, AHandlerMayDestroyItsOwnWatch) {
  MemoryEnv env;
  std::unique_ptr<Watch> watch;
  std::promise<void> called;
  std::mutex mu;
  {
    std::lock_guard lock(mu);
    watch = env.discovery().WatchRole("connect", [&](std::vector<NodeInfo>) {
      std::lock_guard inner(mu);
      if (!watch) return;
      watch.reset();
      called.set_value();
    });
  }
  ASSERT_EQ(called.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  std::lock_guard lock(mu);
  EXPECT_EQ(watch, nullptr);
}

TEST(MemoryDiscoveryTest, RegistrationsOutliveTheDiscovery) {
  asio::io_context io;
  std::unique_ptr<Registration> reg;
  {
    MemoryDiscovery discovery(io.get_executor());
    NodeInfo node;
    node.node_id = "n";
    node.role = "connect";
    discovery.Register(node, 1000, [&](StatusOr<std::unique_ptr<Registration>> r) {
      ASSERT_TRUE(r.ok());
      reg = std::move(r).value();
    });
  }
  ASSERT_NE(reg, nullptr);
  reg->ReportLoad(3);
  reg->Close();
}

}  // namespace
}  // namespace parley::discovery

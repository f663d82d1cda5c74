// The Store contract suite (store/testing/store_contract.h) against
// SqliteStore, alone and under each forwarding wrapper with no fault armed.
#include <memory>

#include "store/sqlite/sqlite_store.h"
#include "store/testing/fault_injecting_store.h"
#include "store/testing/store_contract.h"
#include "store/testing/store_wrapper.h"
#include "support/factory_name.h"
#include "support/test_util.h"

namespace parley::store {
namespace {

class SqliteStoreFactory {
 public:
  static constexpr const char* kName = "SqliteStore";

  StatusOr<std::unique_ptr<Store>> Open() {
    auto s = SqliteStore::Open(dir_.path() + "/store.db", StorageOptions{});
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(s).value());
  }

 private:
  parley::testing::TempDir dir_;
};

// `Wrapper` over a SqliteStore that the factory owns.
template <typename Wrapper>
class WrappedSqliteStoreFactory {
 public:
  StatusOr<std::unique_ptr<Store>> Open() {
    auto target = target_factory_.Open();
    if (!target.ok()) return target.status();
    target_ = std::move(target).value();
    return std::unique_ptr<Store>(std::make_unique<Wrapper>(target_.get()));
  }

 private:
  SqliteStoreFactory target_factory_;
  std::unique_ptr<Store> target_;  // after the temp dir: closed before it goes
};

struct StoreWrapperFactory : WrappedSqliteStoreFactory<StoreWrapper> {
  static constexpr const char* kName = "StoreWrapperOverSqlite";
};
// No fault armed: it must be indistinguishable from its target.
struct FaultInjectingStoreFactory : WrappedSqliteStoreFactory<FaultInjectingStore> {
  static constexpr const char* kName = "FaultInjectingStoreOverSqlite";
};

using Factories =
    ::testing::Types<SqliteStoreFactory, StoreWrapperFactory, FaultInjectingStoreFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContractTest, Factories, parley::testing::FactoryName);

}  // namespace
}  // namespace parley::store

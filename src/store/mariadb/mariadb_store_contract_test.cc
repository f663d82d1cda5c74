// The Store contract suite (store/testing/store_contract.h) against
// MariaDbStore on a real mariadbd: each test gets a new database, migrated.
#include <memory>

#include "store/mariadb/mariadb_store.h"
#include "store/mariadb/testing/mariadb_server.h"
#include "store/testing/store_contract.h"
#include "support/factory_name.h"

namespace parley::store {
namespace {

class MariaDbStoreFactory {
 public:
  static constexpr const char* kName = "MariaDbStore";

  StatusOr<std::unique_ptr<Store>> Open() {
    MariaDbStoreOptions options;
    options.migrate = true;
    auto s = MariaDbStore::Open(parley::testing::MariaDbServer::Shared().CreateDatabase("contract"),
                                options);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(s).value());
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(MariaDb, StoreContractTest, ::testing::Types<MariaDbStoreFactory>,
                               parley::testing::FactoryName);

}  // namespace
}  // namespace parley::store

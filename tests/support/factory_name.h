// Names the instantiations of a typed contract suite after their factories:
// "Sqlite/StoreContractTest/SqliteStore.Foo" rather than ".../0.Foo".
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StoreContractTest, Factories, FactoryName);
// Each factory declares `static constexpr const char* kName`.
#pragma once

#include <string>

namespace parley::testing {

struct FactoryName {
  template <typename Factory>
  static std::string GetName(int) {
    return Factory::kName;
  }
};

}  // namespace parley::testing

#include "common/config_file.h"

#include <fstream>

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley {
namespace {

std::string Write(const testing::TempDir& dir, const std::string& text) {
  std::string path = dir.path() + "/parley.json";
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigFile, SetsNestedFields) {
  testing::TempDir dir;
  Options o;
  ASSERT_OK(LoadConfigFile(Write(dir, R"({"listen": "0.0.0.0:9000", "limits": {"body_max": 100},
                                         "rate": {"send_per_sec": 2.5}, "storage": {"data_dir": "/x"}})"),
                           &o));
  EXPECT_EQ(o.listen, "0.0.0.0:9000");
  EXPECT_EQ(o.limits.body_max, 100u);
  EXPECT_DOUBLE_EQ(o.rate.send_per_sec, 2.5);
  EXPECT_EQ(o.storage.data_dir, "/x");
  EXPECT_EQ(o.limits.username_max, 32u);  // untouched keys keep their defaults
}

TEST(ConfigFile, AdminPortDefaultsToLoopbackAndCanBeTurnedOff) {
  testing::TempDir dir;
  Options o;
  EXPECT_EQ(o.admin_listen, "127.0.0.1:9464");
  EXPECT_EQ(o.admin_token, "");
  ASSERT_OK(LoadConfigFile(Write(dir, R"({"admin_listen": "", "admin_token": "t0k"})"), &o));
  EXPECT_EQ(o.admin_listen, "");
  EXPECT_EQ(o.admin_token, "t0k");
}

TEST(ConfigFile, RejectsUnknownKeysAndWrongTypes) {
  testing::TempDir dir;
  Options o;
  EXPECT_FALSE(LoadConfigFile(Write(dir, R"({"limits": {"bodymax": 1}})"), &o).ok());
  EXPECT_FALSE(LoadConfigFile(Write(dir, R"({"listen": 8080})"), &o).ok());
  EXPECT_FALSE(LoadConfigFile(Write(dir, R"({"limits": {"body_max": -1}})"), &o).ok());
  EXPECT_FALSE(LoadConfigFile(Write(dir, "[1]"), &o).ok());
  EXPECT_FALSE(LoadConfigFile(Write(dir, "{nope"), &o).ok());
  EXPECT_TRUE(LoadConfigFile(dir.path() + "/missing.json", &o).IsNotFound());
}

TEST(ConfigFile, TrustedProxiesAreAListOfStrings) {
  testing::TempDir dir;
  Options o;
  EXPECT_TRUE(o.http.trusted_proxies.empty());  // the header is ignored by default
  ASSERT_OK(LoadConfigFile(Write(dir, R"({"http": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]},
                     "rate": {"login_failures_burst": 5, "auth_ipv6_prefix": 56}})"),
                           &o));
  EXPECT_EQ(o.http.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8"}));
  EXPECT_DOUBLE_EQ(o.rate.login_failures_burst, 5);
  EXPECT_EQ(o.rate.auth_ipv6_prefix, 56u);
  EXPECT_FALSE(
      LoadConfigFile(Write(dir, R"({"http": {"trusted_proxies": "10.0.0.0/8"}})"), &o).ok());
  EXPECT_FALSE(LoadConfigFile(Write(dir, R"({"http": {"trusted_proxies": [8]}})"), &o).ok());
}

TEST(ConfigFile, ClusterTimingsOfADeadLogicNodesLeftovers) {
  testing::TempDir dir;
  Options o;
  EXPECT_EQ(o.cluster.send_claim_ttl_ms, 2000u);
  EXPECT_EQ(o.cluster.seq_lease_ttl_ms, 2000u);
  ASSERT_OK(LoadConfigFile(
      Write(dir, R"({"cluster": {"send_claim_ttl_ms": 5000, "seq_lease_ttl_ms": 700}})"), &o));
  EXPECT_EQ(o.cluster.send_claim_ttl_ms, 5000u);
  EXPECT_EQ(o.cluster.seq_lease_ttl_ms, 700u);
}

}  // namespace
}  // namespace parley

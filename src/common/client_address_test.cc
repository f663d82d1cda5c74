// Issue 10, finding 7: the client address behind trusted proxies, and the
// per-network rate-limit key (an IPv6 /64 is one bucket).
#include "common/client_address.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TrustedProxies Trusted(std::vector<std::string> cidrs) {
  auto t = TrustedProxies::Parse(cidrs);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? *t : TrustedProxies();
}

TEST(NetworkKeyTest, AnIpv6Slash64IsOneKeyAndIpv4AddressesAreTheirOwn) {
  EXPECT_EQ(NetworkKey("2001:db8:1:2::1", 32, 64), "2001:db8:1:2::/64");
  EXPECT_EQ(NetworkKey("2001:db8:1:2:ffff:eeee:dddd:cccc", 32, 64), "2001:db8:1:2::/64");
  EXPECT_NE(NetworkKey("2001:db8:1:3::1", 32, 64), NetworkKey("2001:db8:1:2::1", 32, 64));
  EXPECT_EQ(NetworkKey("192.0.2.7", 32, 64), "192.0.2.7/32");
  EXPECT_NE(NetworkKey("192.0.2.7", 32, 64), NetworkKey("192.0.2.8", 32, 64));
  // Both configurable.
  EXPECT_EQ(NetworkKey("192.0.2.7", 24, 64), "192.0.2.0/24");
  EXPECT_EQ(NetworkKey("2001:db8:1:2::1", 32, 48), "2001:db8:1::/48");
  // An IPv4-mapped IPv6 address is its IPv4 address.
  EXPECT_EQ(NetworkKey("::ffff:192.0.2.7", 32, 64), "192.0.2.7/32");
  EXPECT_EQ(NetworkKey("not-an-address", 32, 64), "not-an-address");
  EXPECT_EQ(NetworkKey("", 32, 64), "");
}

TEST(ClientAddressTest, WithoutTrustedProxiesTheHeaderIsIgnored) {
  EXPECT_EQ(ClientAddress("203.0.113.5", "198.51.100.1", TrustedProxies()), "203.0.113.5");
}

TEST(ClientAddressTest, AnUntrustedPeersHeaderIsIgnored) {
  auto t = Trusted({"10.0.0.0/8"});
  EXPECT_EQ(ClientAddress("203.0.113.5", "198.51.100.1", t), "203.0.113.5");
}

TEST(ClientAddressTest, BehindATrustedProxyTheRightmostUntrustedAddressIsTheClient) {
  auto t = Trusted({"10.0.0.0/8", "::1"});
  EXPECT_EQ(ClientAddress("10.1.2.3", "198.51.100.1", t), "198.51.100.1");
  // The client forged the leftmost entries; the proxy appended the real one.
  EXPECT_EQ(ClientAddress("10.1.2.3", "1.2.3.4, 5.6.7.8,198.51.100.1", t), "198.51.100.1");
  // Two trusted hops: the address the outer proxy saw.
  EXPECT_EQ(ClientAddress("::1", "198.51.100.1, 10.9.9.9", t), "198.51.100.1");
  EXPECT_EQ(ClientAddress("10.1.2.3", "2001:db8::7", t), "2001:db8::7");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(ClientAddress("10.1.2.3", "10.0.0.1, 10.0.0.2", t), "10.0.0.1");
}

TEST(ClientAddressTest, AMissingOrMalformedHeaderFallsBackSafely) {
  auto t = Trusted({"10.0.0.0/8"});
  EXPECT_EQ(ClientAddress("10.1.2.3", "", t), "10.1.2.3");
  EXPECT_EQ(ClientAddress("10.1.2.3", "garbage", t), "10.1.2.3");
  // Garbage left of a well-formed entry is never reached.
  EXPECT_EQ(ClientAddress("10.1.2.3", "garbage, 198.51.100.1", t), "198.51.100.1");
  // Garbage left of a trusted entry: the last address read.
  EXPECT_EQ(ClientAddress("10.1.2.3", "garbage, 10.0.0.9", t), "10.0.0.9");
}

TEST(TrustedProxiesTest, ParsesNetworksAndAddressesAndRefusesTheRest) {
  auto t = Trusted({"127.0.0.1", "192.168.0.0/16", "fd00::/8"});
  EXPECT_TRUE(t.Contains("127.0.0.1"));
  EXPECT_FALSE(t.Contains("127.0.0.2"));
  EXPECT_TRUE(t.Contains("192.168.44.1"));
  EXPECT_TRUE(t.Contains("fd12::1"));
  EXPECT_TRUE(t.Contains("::ffff:192.168.1.1"));
  EXPECT_FALSE(t.Contains("2001:db8::1"));
  EXPECT_FALSE(TrustedProxies::Parse({"10.0.0.0/33"}).ok());
  EXPECT_FALSE(TrustedProxies::Parse({"nonsense"}).ok());
  EXPECT_FALSE(TrustedProxies::Parse({"10.0.0.1/8"}).ok());  // host bits set: a typo
}

}  // namespace
}  // namespace parley

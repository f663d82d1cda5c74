#include "connect/bearer_token.h"

#include <gtest/gtest.h>

namespace parley::connect {
namespace {

TEST(BearerToken, FromHeader) {
  EXPECT_EQ(BearerToken("Bearer abc123", "/ws"), "abc123");
  EXPECT_EQ(BearerToken("bearer  abc123 ", "/ws"), "abc123");
  EXPECT_EQ(BearerToken("BEARER x", "/ws"), "x");
  // The header wins over the query.
  EXPECT_EQ(BearerToken("Bearer head", "/ws?token=query"), "head");
}

TEST(BearerToken, FromQuery) {
  EXPECT_EQ(BearerToken("", "/ws?token=q-1_2"), "q-1_2");
  EXPECT_EQ(BearerToken("", "/ws?a=1&token=abc%2Bdef&b=2"), "abc+def");
  // A header of another scheme is ignored.
  EXPECT_EQ(BearerToken("Basic dXNlcjpwYXNz", "/ws?token=t"), "t");
}

TEST(BearerToken, Missing) {
  EXPECT_EQ(BearerToken("", "/ws"), "");
  EXPECT_EQ(BearerToken("Bearer", "/ws"), "");
  EXPECT_EQ(BearerToken("Bearer   ", "/ws"), "");
  EXPECT_EQ(BearerToken("", "/ws?token"), "");
  EXPECT_EQ(BearerToken("", "/ws?tokens=x"), "");
  EXPECT_EQ(BearerToken("", "not a target"), "");
}

}  // namespace
}  // namespace parley::connect

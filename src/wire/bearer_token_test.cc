// The one bearer-token parser, used by the api (header) and connect (header
// or query) tiers.
#include "wire/bearer_token.h"

#include <gtest/gtest.h>

namespace parley::wire {
namespace {

TEST(BearerFromHeader, SchemeIsCaseInsensitiveAndSpacesAreTrimmed) {
  EXPECT_EQ(BearerFromHeader("Bearer abc"), "abc");
  EXPECT_EQ(BearerFromHeader("  bearer\tabc  "), "abc");
  EXPECT_EQ(BearerFromHeader("bearer   good"), "good");
  EXPECT_EQ(BearerFromHeader("Bearerabc"), "");
  EXPECT_EQ(BearerFromHeader("Basic Z29vZA=="), "");
  EXPECT_EQ(BearerFromHeader("Bearer "), "");
  EXPECT_EQ(BearerFromHeader(""), "");
}

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
}  // namespace parley::wire

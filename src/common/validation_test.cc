#include "common/validation.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

const Limits kLimits;

TEST(Validation, Usernames) {
  EXPECT_TRUE(ValidateUsername("alice", kLimits).ok());
  EXPECT_TRUE(ValidateUsername("a.b-c_9", kLimits).ok());
  EXPECT_FALSE(ValidateUsername("ab", kLimits).ok());
  EXPECT_FALSE(ValidateUsername(std::string(33, 'a'), kLimits).ok());
  EXPECT_FALSE(ValidateUsername("al ice", kLimits).ok());
  EXPECT_FALSE(ValidateUsername("álice", kLimits).ok());
  EXPECT_EQ(ValidateUsername("ab", kLimits).code(), Code::kInvalidArgument);
}

TEST(Validation, LimitsAreConfigurable) {
  Limits l;
  l.username_min = 1;
  l.body_max = 3;
  EXPECT_TRUE(ValidateUsername("a", l).ok());
  EXPECT_TRUE(ValidateBody("abc", l).ok());
  EXPECT_FALSE(ValidateBody("abcd", l).ok());
}

TEST(Validation, Passwords) {
  EXPECT_TRUE(ValidatePassword("12345678", kLimits).ok());
  EXPECT_FALSE(ValidatePassword("1234567", kLimits).ok());
  EXPECT_FALSE(ValidatePassword(std::string(129, 'x'), kLimits).ok());
}

TEST(Validation, Bodies) {
  EXPECT_TRUE(ValidateBody("héllo 👋", kLimits).ok());
  EXPECT_TRUE(ValidateBody(std::string(4096, 'x'), kLimits).ok());
  EXPECT_FALSE(ValidateBody("", kLimits).ok());
  EXPECT_FALSE(ValidateBody(std::string(4097, 'x'), kLimits).ok());
  EXPECT_FALSE(ValidateBody("\xff", kLimits).ok());
}

TEST(Validation, ClientIds) {
  EXPECT_TRUE(ValidateClientId("abc-DEF_123").ok());
  EXPECT_TRUE(ValidateClientId(std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateClientId("").ok());
  EXPECT_FALSE(ValidateClientId(std::string(65, 'a')).ok());
  EXPECT_FALSE(ValidateClientId("a b").ok());
  EXPECT_FALSE(ValidateClientId("a/b").ok());
}

TEST(Validation, Ids) {
  EXPECT_TRUE(ValidateId(1, "user_id").ok());
  EXPECT_TRUE(ValidateId(kMaxSafeId, "user_id").ok());
  EXPECT_FALSE(ValidateId(0, "user_id").ok());
  EXPECT_FALSE(ValidateId(kMaxSafeId + 1, "user_id").ok());
  EXPECT_NE(ValidateId(0, "to_user").message().find("to_user"), std::string::npos);
}

TEST(Validation, PageLimits) {
  EXPECT_TRUE(ValidateLimit(1, kLimits).ok());
  EXPECT_TRUE(ValidateLimit(200, kLimits).ok());
  EXPECT_FALSE(ValidateLimit(0, kLimits).ok());
  EXPECT_FALSE(ValidateLimit(201, kLimits).ok());
}

TEST(Validation, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));           // é
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x91\x8b"));   // 👋
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
}

}  // namespace
}  // namespace parley

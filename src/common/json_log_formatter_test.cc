// JSON log lines: each logfmt pair of a message becomes a field, so a log
// shipper can filter on rid, event or user without parsing the message.
#include "common/json_log_formatter.h"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <boost/json.hpp>

namespace parley {
namespace {

boost::json::object Format(std::string_view payload, LogFields fixed = {}) {
  JsonLogFormatter f(std::move(fixed));
  spdlog::details::log_msg msg("parley", spdlog::level::warn, payload);
  spdlog::memory_buf_t out;
  f.format(msg, out);
  std::string line(out.data(), out.size());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per record";
  return boost::json::parse(line).as_object();
}

TEST(JsonLogFormatter, EveryPairIsAFieldAndTheProcessFieldsComeFirst) {
  auto o = Format("event=send rid=7f3a user=12", {{"role", "logic"}, {"node", "logic-1"}});
  EXPECT_EQ(o.at("level").as_string(), "warning");
  EXPECT_EQ(o.at("role").as_string(), "logic");
  EXPECT_EQ(o.at("node").as_string(), "logic-1");
  EXPECT_EQ(o.at("event").as_string(), "send");
  EXPECT_EQ(o.at("rid").as_string(), "7f3a");
  EXPECT_EQ(o.at("user").as_string(), "12");
  EXPECT_TRUE(o.at("ts").as_string().ends_with("Z"));
  EXPECT_FALSE(o.contains("msg"));
}

TEST(JsonLogFormatter, QuotedValuesKeepSpacesAndEscapes) {
  auto o = Format(R"(event=start_failed error="cannot bind \"x\": in use" path=C:\\dir)");
  EXPECT_EQ(o.at("error").as_string(), "cannot bind \"x\": in use");
}

TEST(JsonLogFormatter, FreeTextGoesToMsgAndControlCharactersAreEscaped) {
  auto o = Format("hello world event=x\nnext line");
  EXPECT_EQ(o.at("msg").as_string(), "hello world line");
  EXPECT_EQ(o.at("event").as_string(), "x\nnext");
}

TEST(JsonLogFormatter, AMessageCannotOverwriteTheTimestampOrLevel) {
  auto o = Format("ts=forged level=forged event=x");
  EXPECT_NE(o.at("ts").as_string(), "forged");
  EXPECT_EQ(o.at("level").as_string(), "warning");
}

TEST(ParseLogfmt, UnterminatedQuoteTakesTheRestAsTheValue) {
  std::string rest;
  auto f = ParseLogfmt(R"(a=1 b="open end)", &rest);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].second, "open end");
  EXPECT_TRUE(rest.empty());
}

}  // namespace
}  // namespace parley

// Randomized robustness of the client-frame parser: whatever bytes a client
// sends, ParseClientFrame either accepts a well-formed frame or answers
// INVALID_ARGUMENT, and never crashes or reads out of bounds (this runs under
// ASan+UBSan in CI). GCC has no libFuzzer, so this mutates a corpus of valid
// frames with a seeded generator: repeatable, and it fails with the input.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "connect/frame_codec.h"
#include "support/fuzz_mutator.h"

namespace parley::connect {
namespace {

const std::vector<std::string> kCorpus = {
    R"({"type":"send","id":"m1","to_user":2,"body":"hello"})",
    R"({"type":"send","id":"m2","to_group":7,"body":"h\u00e9llo \ud83d\udc4b"})",
    R"({"type":"sync","conv":"p:1:2","after_seq":3,"limit":50})",
    R"({"type":"sync","conv":"g:9"})",
    R"({"type":"read","conv":"p:1:2","seq":4})",
    R"({"type":"ping"})",
};

// Byte-level mutations, plus splices of JSON tokens that tend to reach deep
// into the parser (wrong types, huge numbers, nesting).
std::string Mutate(std::string s, std::mt19937_64& rng) {
  static constexpr std::string_view kTokens[] = {
      "null", "true",     "[]",          "{}",          "-1",       "1e309", "9007199254740993",
      "0.5",  "\"\"",     "\"\\u0000\"", "\"\\ud800\"", "[[[[[[[[", "}}}}",  ",",
      ":",    "\"type\"", "\"send\"",    "\xff",        "\xc3"};
  return parley::testing::Mutate(std::move(s), rng, kTokens, 4);
}

TEST(FrameCodecFuzz, AnyInputIsAcceptedOrRefusedWithInvalidArgument) {
  Limits limits;
  std::mt19937_64 rng(20261122);
  int accepted = 0;
  for (int i = 0; i < 300'000; ++i) {
    std::string input = Mutate(kCorpus[rng() % kCorpus.size()], rng);
    ClientFrame frame;
    Status s = ParseClientFrame(input, limits, frame);
    if (s.ok()) {
      ++accepted;
    } else {
      ASSERT_EQ(s.code(), Code::kInvalidArgument) << "input: " << input << " -> " << s.message();
      ASSERT_FALSE(s.message().empty()) << "input: " << input;
    }
  }
  // Some mutations keep a frame valid (e.g. a changed body byte); a parser
  // that refused everything would not be tested by this.
  EXPECT_GT(accepted, 1000);
}

TEST(FrameCodecFuzz, RandomBytesAreRefused) {
  Limits limits;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20'000; ++i) {
    std::string input(rng() % 64, '\0');
    for (char& c : input) c = static_cast<char>(rng() % 256);
    ClientFrame frame;
    Status s = ParseClientFrame(input, limits, frame);
    if (!s.ok()) {
      ASSERT_EQ(s.code(), Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace parley::connect

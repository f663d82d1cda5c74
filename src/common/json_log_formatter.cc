#include "common/json_log_formatter.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace parley {

namespace {

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

void AppendEscaped(spdlog::memory_buf_t& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          out.append(esc, esc + sizeof(esc));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void AppendField(spdlog::memory_buf_t& out, std::string_view key, std::string_view value) {
  out.push_back(',');
  AppendEscaped(out, key);
  out.push_back(':');
  AppendEscaped(out, value);
}

}  // namespace

LogFields ParseLogfmt(std::string_view text, std::string* rest) {
  LogFields fields;
  size_t i = 0;
  auto add_rest = [&](std::string_view word) {
    if (word.empty()) return;
    if (!rest->empty()) rest->push_back(' ');
    rest->append(word);
  };
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t start = i;
    size_t k = i;
    while (k < text.size() && IsKeyChar(text[k])) ++k;
    if (k == start || k >= text.size() || text[k] != '=') {
      // Not a pair: one word of free text.
      size_t end = text.find(' ', start);
      if (end == std::string_view::npos) end = text.size();
      add_rest(text.substr(start, end - start));
      i = end;
      continue;
    }
    std::string key(text.substr(start, k - start));
    i = k + 1;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value.push_back(text[i++]);
      }
      if (i < text.size()) ++i;  // closing quote
    } else {
      size_t end = text.find(' ', i);
      if (end == std::string_view::npos) end = text.size();
      value.assign(text.substr(i, end - i));
      i = end;
    }
    fields.emplace_back(std::move(key), std::move(value));
  }
  return fields;
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  auto since_epoch = msg.time.time_since_epoch();
  auto secs = duration_cast<seconds>(since_epoch);
  auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
  std::time_t t = secs.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[40];
  int n = std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(millis));
  dest.append(std::string_view("{\"ts\":"));
  AppendEscaped(dest, std::string_view(ts, static_cast<size_t>(n)));
  auto level = spdlog::level::to_string_view(msg.level);
  AppendField(dest, "level", std::string_view(level.data(), level.size()));
  for (const auto& [k, v] : fixed_) AppendField(dest, k, v);
  std::string rest;
  for (const auto& [k, v] :
       ParseLogfmt(std::string_view(msg.payload.data(), msg.payload.size()), &rest)) {
    // A message's own field never replaces ts/level or the process fields.
    if (k == "ts" || k == "level") continue;
    AppendField(dest, k, v);
  }
  if (!rest.empty()) AppendField(dest, "msg", rest);
  dest.append(std::string_view("}\n"));
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>(fixed_);
}

}  // namespace parley

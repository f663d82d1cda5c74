#include "api/static_files.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <spdlog/spdlog.h>

namespace parley::api {

namespace fs = std::filesystem;

namespace {

struct TypeByExtension {
  std::string_view extension;
  std::string_view type;
};

constexpr std::array<TypeByExtension, 16> kTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".htm", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".webp", "image/webp"},
}};

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<ptrdiff_t>(suffix.size()),
                    [](char a, char b) { return Lower(a) == Lower(b); });
}

// FNV-1a, 64 bits: content identity for the ETag, not security.
std::string MakeEtag(std::string_view body) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%016llx-%zx\"", static_cast<unsigned long long>(h),
                body.size());
  return buf;
}

bool IsUnder(const fs::path& path, const fs::path& root) {
  auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return r == root.end();
}

bool SafeSegment(std::string_view s) {
  if (s.empty() || s.front() == '.') return false;  // also rules out "." and ".."
  return s.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view StaticFiles::ContentTypeFor(std::string_view filename) {
  for (const auto& t : kTypes) {
    if (EndsWithNoCase(filename, t.extension)) return t.type;
  }
  return "application/octet-stream";
}

bool StaticFiles::EtagMatches(std::string_view if_none_match, std::string_view etag) {
  std::string_view opaque = etag;
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view tag = Trim(if_none_match.substr(0, comma));
    if_none_match =
        comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // If-None-Match compares weakly
    if (tag == opaque) return true;
  }
  return false;
}

StatusOr<StaticFiles> StaticFiles::Load(const std::string& root_dir) {
  std::error_code ec;
  fs::path root = fs::canonical(root_dir, ec);
  if (ec || !fs::is_directory(root, ec)) {
    return Status::NotFound("web root " + root_dir + " is not a directory");
  }
  StaticFiles out;
  auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
  if (ec) return Status::Internal("cannot list web root " + root_dir + ": " + ec.message());
  for (auto end = fs::recursive_directory_iterator(); it != end; it.increment(ec)) {
    if (ec) return Status::Internal("cannot list web root " + root_dir + ": " + ec.message());
    const fs::path& path = it->path();
    std::string name = path.filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    fs::path real = fs::canonical(path, ec);
    if (ec || !IsUnder(real, root)) {
      spdlog::warn("event=static_skip path={} reason=outside_root", path.string());
      if (it->is_directory(ec)) it.disable_recursion_pending();
      ec.clear();
      continue;
    }
    if (!fs::is_regular_file(real, ec)) {
      ec.clear();
      continue;
    }
    uintmax_t size = fs::file_size(real, ec);
    if (ec || size > kMaxFileBytes) {
      spdlog::warn("event=static_skip path={} reason=too_large", path.string());
      ec.clear();
      continue;
    }
    std::ifstream in(real, std::ios::binary);
    if (!in.is_open()) return Status::Internal("cannot open " + path.string());
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Status::Internal("cannot read " + path.string());
    std::string relative = path.lexically_relative(root).generic_string();
    StaticFile file;
    file.content_type = std::string(ContentTypeFor(name));
    file.etag = MakeEtag(body);
    file.body = std::move(body);
    out.files_.emplace(std::move(relative), std::move(file));
  }
  return out;
}

const StaticFile* StaticFiles::Find(const std::vector<std::string>& segments) const {
  std::string key;
  for (size_t i = 0; i < segments.size(); ++i) {
    bool last = i + 1 == segments.size();
    if (last && segments[i].empty()) break;  // "/dir/" -> dir/index.html
    if (!SafeSegment(segments[i])) return nullptr;
    key += segments[i];
    key += '/';
  }
  bool directory = segments.empty() || segments.back().empty();
  if (directory) {
    key += "index.html";
  } else {
    key.pop_back();
  }
  auto it = files_.find(key);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace parley::api

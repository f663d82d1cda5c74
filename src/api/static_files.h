// The web client's assets, read once from a directory into memory so that
// serving them never touches the disk and a request can name nothing that was
// not under the root at load time. Immutable after Load(): thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace parley::api {

struct StaticFile {
  std::string body;
  std::string content_type;
  std::string etag;  // strong, quoted: "\"<hash>-<size>\""
};

class StaticFiles {
 public:
  // Serves nothing.
  StaticFiles() = default;

  // Every regular file under `root`, recursively. Skipped: names starting
  // with '.', files over kMaxFileBytes, and anything (symlinks) resolving
  // outside `root`. An error if `root` is not a readable directory or a file
  // cannot be read.
  static StatusOr<StaticFiles> Load(const std::string& root);

  // The file for the decoded path segments of a request: no segments ("/")
  // and a trailing empty segment ("/docs/") mean index.html. nullptr when
  // there is none, or a segment is "", ".", "..", starts with '.', or holds
  // '/', '\\' or NUL.
  const StaticFile* Find(const std::vector<std::string>& segments) const;

  size_t size() const { return files_.size(); }

  // By extension, case-insensitive; application/octet-stream when unknown.
  static std::string_view ContentTypeFor(std::string_view filename);
  // Whether an If-None-Match header value ("*", or a list of entity tags,
  // weak ones compared weakly) matches `etag`.
  static bool EtagMatches(std::string_view if_none_match, std::string_view etag);

  static constexpr size_t kMaxFileBytes = 32 * 1024 * 1024;

 private:
  std::unordered_map<std::string, StaticFile> files_;  // by path relative to root, '/'-separated
};

}  // namespace parley::api

#include "common/logging.h"

#include <random>

#include <spdlog/sinks/stdout_sinks.h>

namespace parley {

void SetupLogging(const std::string& level, const std::string& format, const LogFields& fields) {
  auto logger = spdlog::stderr_logger_mt("parley");
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonLogFormatter>(fields));
  } else {
    std::string prefix;
    for (const auto& [k, v] : fields) prefix += k + "=" + v + " ";
    logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e level=%l " + prefix + "%v");
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) id[i] = kHex[v & 0xf];
  return id;
}

}  // namespace parley

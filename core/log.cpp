#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

#include "core/error.h"

namespace cmbench {

void init_logging(const std::string& level) {
  std::string name = level;
  if (name.empty()) {
    const char* env = std::getenv("CMBENCH_LOG");
    name = env && *env ? env : "info";
  }
  const auto parsed = spdlog::level::from_str(name);
  if (parsed == spdlog::level::off && name != "off") {
    throw InputError("log level '" + name + "': expected trace, debug, info, warn, error or off");
  }
  auto logger = spdlog::get("cmbench");
  if (!logger) logger = spdlog::stderr_color_mt("cmbench");
  logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace cmbench

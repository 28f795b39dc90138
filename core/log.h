// Logging: spdlog to stderr, level from --log-level or $CMBENCH_LOG (trace..off; default info).
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace cmbench {

void init_logging(const std::string& level = "");

}  // namespace cmbench

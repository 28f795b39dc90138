// Where fetched datasets live: --root when given, else $CMBENCH_DATA, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/cmbench.
#pragma once

#include <string>

namespace cmbench {

std::string data_root(const std::string& override_root = "");

}  // namespace cmbench

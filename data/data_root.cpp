#include "data/data_root.h"

#include <cstdlib>

#include "core/error.h"

namespace cmbench {

std::string data_root(const std::string& override_root) {
  if (!override_root.empty()) return override_root;
  const auto from_env = [](const char* name) {
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
  };
  if (auto root = from_env("CMBENCH_DATA"); !root.empty()) return root;
  if (auto cache = from_env("XDG_CACHE_HOME"); !cache.empty()) return cache + "/cmbench";
  if (auto home = from_env("HOME"); !home.empty()) return home + "/.cache/cmbench";
  throw InputError("data root: none of --root, $CMBENCH_DATA, $XDG_CACHE_HOME, $HOME is set");
}

}  // namespace cmbench

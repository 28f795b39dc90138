#include "methods/checkpoint_method.h"

#include "core/error.h"
#include "methods/registry.h"

namespace cmbench {

std::unique_ptr<Method> checkpoint_method(const Checkpoint& checkpoint, const std::string& path) {
  std::string name = "edm", preset = "cifar10";
  const auto& config = checkpoint.config;
  if (config.is_object() && config.contains("method")) {
    const auto& method = config["method"];
    if (method.is_string()) {
      name = method.get<std::string>();
    } else if (method.is_object()) {
      name = method.value("name", name);
      preset = method.value("preset", preset);
    } else {
      throw InputError(path + ": config 'method' must be a method name or an object with 'name'");
    }
  }
  if (checkpoint.attributes.contains("method")) name = checkpoint.attributes["method"].get<std::string>();
  return make_method(name, preset);
}

}  // namespace cmbench

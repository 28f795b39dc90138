// The methods by name: make_method(config.sub("method")) reads `method.name` (edm, cd, ct, ict,
// ect, sct) and the method's options, defaulting to the paper values of `method.preset`.
#pragma once

#include <memory>

#include "core/config.h"
#include "core/registry.h"
#include "methods/method.h"

namespace cmbench {

using MethodRegistry = Registry<Method, const Config&>;

const MethodRegistry& method_registry();
std::unique_ptr<Method> make_method(const Config& table);

}  // namespace cmbench

// The training method a checkpoint records, built with its dataset preset, so that sampling takes
// that method's defaults (its sampler and levels, methods/sampler.h).
#pragma once

#include <memory>
#include <string>

#include "core/checkpoint.h"
#include "methods/method.h"

namespace cmbench {

// The trainer's root attribute `method`, else `config.method` (an object with `name` and `preset`, or
// in hand-written configs a name). Weights with neither, as exported from EDM's code, are a diffusion
// model and sample as EDM does. InputError naming `path` for a malformed `config.method`.
std::unique_ptr<Method> checkpoint_method(const Checkpoint& checkpoint, const std::string& path);

}  // namespace cmbench

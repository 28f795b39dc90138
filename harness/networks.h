// Network construction for training and sampling: every architecture of the nets registry
// (nets/factory.h), the small MLP (arch "mlp") included.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "nets/denoiser.h"
#include "nets/factory.h"

namespace cmbench {

// `net` is a config table or a resolved checkpoint object; `seed` drives the initialization.
DenoiserPtr build_network(const nlohmann::json& net, const PrecondConfig& precond, uint64_t seed);
nlohmann::json resolve_network_config(const Config& net);

// A network of the same architecture with copies of `source`'s tensors (CM target, EMA copies).
DenoiserPtr clone_for_training(Denoiser& source);

// Builds the checkpoint's network and loads `group` ("" = ema when present, else model).
DenoiserPtr load_checkpoint_network(const std::string& path, const std::string& group);

}  // namespace cmbench

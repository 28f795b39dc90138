// Network construction for training and sampling: the architectures of nets/factory.h plus this
// suite's small MLP (arch "mlp", methods/toy_networks.h) for CPU tests and toy problems.
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
// The same from a checkpoint already read, holding `group`; `path` names it in messages.
DenoiserPtr checkpoint_network(const Checkpoint& checkpoint, const std::string& group, const std::string& path);

}  // namespace cmbench

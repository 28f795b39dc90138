// Building networks from configs: presets, EDM keyword names, and the arch registry.
//
// A `net` table names a preset and/or any EDM keyword, e.g.
//   [net]
//   preset = "cifar10-ddpmpp"      # see preset_names(); `cmbench net info --preset NAME`
//   dropout = 0.2                  # overrides the preset
// resolve_net_config() turns it into the full `net` object stored in checkpoints (every keyword of
// the arch, EDM's names); make_network() builds from either form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "nets/denoiser.h"

namespace cmbench {

struct NetworkOptions {
  // Root seed of the deterministic initialization (stream "net_init" of core/seed.h).
  uint64_t seed = 0;
  // Parameters are created on the meta device without values: names, shapes and counts of the
  // largest presets without their memory. Such a network cannot run.
  bool shapes_only = false;
};

struct NetPreset {
  std::string name;
  std::string description;
  nlohmann::json config;  // complete `net` object (EDM keyword names)
};

const std::vector<NetPreset>& net_presets();
std::vector<std::string> preset_names();

// Preset (key `preset`, optional) + the table's other keys -> the complete `net` object. Unknown
// keys, wrong types and unknown presets or archs are InputErrors naming the key.
nlohmann::json resolve_net_config(const Config& net);
// The same for a `net` object read from a checkpoint (fills defaults of keys added later).
nlohmann::json resolve_net_config(const nlohmann::json& net);

DenoiserPtr make_network(const Config& net, const PrecondConfig& precond = {}, const NetworkOptions& options = {});
DenoiserPtr make_network(const nlohmann::json& net, const PrecondConfig& precond = {},
                         const NetworkOptions& options = {});
// The network of preset `preset` as it stands, initialized from `seed` (tests, benchmarks).
DenoiserPtr make_preset_network(const std::string& preset, uint64_t seed = 0);

// A network of the same architecture and preconditioning whose tensors are copies of `source`'s
// (EMA and CM target networks), on the same device, in the same train/eval mode.
DenoiserPtr clone_network(Denoiser& source);

// Copies `source`'s tensors into `destination` (same architecture), without autograd.
void copy_state(Denoiser& source, Denoiser& destination);

}  // namespace cmbench

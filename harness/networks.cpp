#include "harness/networks.h"

#include "core/error.h"
#include "core/rng.h"
#include "nets/checkpoint_io.h"

namespace cmbench {

nlohmann::json resolve_network_config(const Config& net) { return resolve_net_config(net); }

DenoiserPtr build_network(const nlohmann::json& net, const PrecondConfig& precond, uint64_t seed) {
  NetworkOptions options;
  options.seed = seed;
  return make_network(net, precond, options);
}

DenoiserPtr clone_for_training(Denoiser& source) { return clone_network(source); }

DenoiserPtr load_checkpoint_network(const std::string& path, const std::string& group) {
  const auto chosen = group.empty() ? default_weights_group(checkpoint_groups(path), path) : group;
  return load_network(path, chosen);
}

}  // namespace cmbench

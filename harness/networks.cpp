#include "harness/networks.h"

#include "core/error.h"
#include "core/rng.h"
#include "core/seed.h"
#include "methods/toy_networks.h"
#include "nets/checkpoint_io.h"

namespace cmbench {

nlohmann::json resolve_network_config(const Config& net) {
  if (net.get_or<std::string>("arch", "") == "mlp") return net.to_json();
  return resolve_net_config(net);
}

DenoiserPtr build_network(const nlohmann::json& net, const PrecondConfig& precond, uint64_t seed) {
  if (net.value("arch", std::string()) == "mlp") {
    // The MLP initializes through LibTorch's default initializers: seed them for this run.
    torch::manual_seed(derive_seed(seed, "net_init"));
    return make_mlp_denoiser(net, precond);
  }
  NetworkOptions options;
  options.seed = seed;
  return make_network(net, precond, options);
}

DenoiserPtr clone_for_training(Denoiser& source) {
  if (source.arch() != "mlp") return clone_network(source);
  auto copy = build_network(source.config(), source.precond(), 0);
  load_named_tensors(source.state(), copy->state(), /*strict=*/true, "clone");
  const auto params = source.parameters();
  if (!params.empty()) copy->to(params.front().device());
  copy->train(source.is_training());
  return copy;
}

DenoiserPtr load_checkpoint_network(const std::string& path, const std::string& group) {
  const auto chosen = group.empty() ? default_weights_group(checkpoint_groups(path), path) : group;
  return checkpoint_network(read_checkpoint(path, {chosen}), chosen, path);
}

DenoiserPtr checkpoint_network(const Checkpoint& checkpoint, const std::string& group, const std::string& path) {
  if (!checkpoint.config.is_object() || !checkpoint.config.contains("net"))
    throw InputError(path + ": checkpoint has no net config");
  if (checkpoint.config["net"].value("arch", std::string()) != "mlp") return network_from_checkpoint(checkpoint, group, path);
  auto net = build_network(checkpoint.config["net"], precond_from_json(checkpoint.config.value("precond", nlohmann::json())), 0);
  load_weights(*net, checkpoint, group, /*strict=*/true, path);
  return net;
}

}  // namespace cmbench

#include "nets/checkpoint_io.h"

#include "core/error.h"

namespace cmbench {

LoadReport load_weights(Denoiser& net, const Checkpoint& checkpoint, const std::string& group, bool strict,
                        const std::string& path) {
  if (!checkpoint.has(group)) throw InputError(path + ": checkpoint has no group '/" + group + "'");
  return load_named_tensors(checkpoint.group(group), net.state(), strict, path + ":/" + group);
}

DenoiserPtr load_network(const std::string& path, const std::string& group, bool strict,
                         const nlohmann::json& net_override) {
  const auto name = group.empty() ? default_weights_group(checkpoint_groups(path), path) : group;
  return network_from_checkpoint(read_checkpoint(path, {name}), name, path, strict, net_override);
}

DenoiserPtr network_from_checkpoint(const Checkpoint& checkpoint, const std::string& group, const std::string& path,
                                    bool strict, const nlohmann::json& net_override) {
  nlohmann::json net = net_override;
  PrecondConfig precond;
  if (checkpoint.config.is_object()) {
    if (net.is_null() && checkpoint.config.contains("net")) net = checkpoint.config.at("net");
    try {
      precond = precond_from_json(checkpoint.config.value("precond", nlohmann::json()));
    } catch (const InputError& e) {
      throw InputError(path + ": config " + e.what());
    }
  }
  if (net.is_null()) throw InputError(path + ": checkpoint has no `config.net`; give the network with --set net.preset=...");
  if (!checkpoint.has(group)) throw InputError(path + ": checkpoint has no group '/" + group + "'");
  const auto build = [&](const NetworkOptions& options) {
    try {
      return make_network(net, precond, options);
    } catch (const InputError& e) {
      throw InputError(path + ": config " + e.what());
    }
  };
  // Shapes first, on the meta device: a config that declares a network larger than the weights the
  // file holds is rejected before its memory is allocated.
  if (strict) {
    NetworkOptions shapes;
    shapes.shapes_only = true;
    check_named_tensors(checkpoint.group(group), build(shapes)->state(), strict, path + ":/" + group);
  }
  auto out = build({});
  load_weights(*out, checkpoint, group, strict, path);
  return out;
}

nlohmann::json network_config(const Denoiser& net, nlohmann::json base) {
  base["net"] = net.config();
  base["precond"] = precond_to_json(net.precond());
  return base;
}

}  // namespace cmbench

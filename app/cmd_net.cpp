// cmbench net info
#include <fmt/format.h>

#include <iostream>

#include "app/cli.h"
#include "core/config.h"
#include "core/error.h"
#include "nets/factory.h"

namespace cmbench::cli {

namespace {

struct NetInfoOptions {
  std::string preset;
  std::vector<std::string> sets;
  bool json = false;
};

std::string shape_text(c10::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

void net_info(const NetInfoOptions& opt) {
  Config config;
  config.set("net.preset=\"" + opt.preset + "\"");
  for (const auto& assignment : opt.sets) {
    if (assignment.rfind("net.", 0) != 0) throw InputError("--set " + assignment + ": expected net.key=value");
    config.set(assignment);
  }
  const auto resolved = resolve_net_config(config.sub("net"));
  NetworkOptions options;
  options.shapes_only = true;  // names, shapes and counts only: no memory for the weights
  auto net = make_network(resolved, {}, options);
  const auto state = net->state();
  int64_t buffer_values = 0;
  for (const auto& b : net->buffers()) buffer_values += b.numel();

  if (opt.json) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& [name, tensor] : state) tensors.push_back({name, tensor.sizes().vec()});
    print_json({{"preset", opt.preset},
                {"arch", net->arch()},
                {"net", resolved},
                {"params", net->parameter_count()},
                {"buffer_values", buffer_values},
                {"num_tensors", state.size()},
                {"tensors", tensors}});
    return;
  }
  std::cout << fmt::format("preset      {}\narch        {}\n", opt.preset, net->arch());
  for (const auto& [key, value] : resolved.items())
    if (key != "arch" && key != "preset") std::cout << fmt::format("  {:<20} {}\n", key, value.dump());
  std::cout << fmt::format("parameters  {} ({:.2f}M)\ntensors     {} (with buffers: {} values)\n",
                           net->parameter_count(), static_cast<double>(net->parameter_count()) / 1e6, state.size(),
                           buffer_values);
  for (const auto& [name, tensor] : state) std::cout << fmt::format("  {:<48} {}\n", name, shape_text(tensor.sizes()));
}

}  // namespace

void add_net_commands(CLI::App& app) {
  auto* net = app.add_subcommand("net", "network presets and architectures");
  net->require_subcommand(1);

  auto opt = std::make_shared<NetInfoOptions>();
  auto* info = net->add_subcommand("info", "architecture summary, parameter count and tensor list of a preset");
  info->add_option("--preset", opt->preset, "network preset (e.g. cifar10-ddpmpp)")->required();
  info->add_option("--set", opt->sets, "override net.key=value (repeatable)");
  info->add_flag("--json", opt->json, "print one JSON object with every tensor name and shape");
  on_selected(info, [opt] { net_info(*opt); });
}

}  // namespace cmbench::cli

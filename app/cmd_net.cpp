// cmbench net info
#include "app/cli.h"

namespace cmbench::cli {

void add_net_commands(CLI::App& app) {
  auto* net = app.add_subcommand("net", "network presets and architectures");
  net->require_subcommand(1);

  struct Options {
    std::string preset;
    std::vector<std::string> sets;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  auto* info = net->add_subcommand("info", "architecture summary, parameter count and tensor list of a preset");
  info->add_option("--preset", opt->preset, "network preset (e.g. cifar10-ddpmpp)")->required();
  info->add_option("--set", opt->sets, "override net.key=value (repeatable)");
  info->add_flag("--json", opt->json, "print one JSON object with every tensor name and shape");
  not_implemented(info, "issue 4, networks");
}

}  // namespace cmbench::cli

// cmbench ema reconstruct: EDM2's post-hoc EMA from a run's power-function EMA snapshots
// (harness/posthoc_ema.h). Several --sigma-rel values go into one output file, one group each, made in
// one pass over the snapshots.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "core/error.h"
#include "harness/posthoc_ema.h"

namespace cmbench::cli {

namespace {

struct EmaReconstructOptions {
  std::vector<std::string> inputs;
  std::string sigma_rel, out;
  bool json = false;
};

std::vector<double> parse_sigma_rels(const std::string& text) {
  std::vector<double> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    const auto end = std::min(text.find(',', begin), text.size());
    const auto item = text.substr(begin, end - begin);
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size())
      throw InputError("--sigma-rel '" + text + "': '" + item + "' is not a number (expected e.g. 0.05,0.1)");
    out.push_back(value);
    begin = end + 1;
  }
  return out;
}

// Run folders become their ckpt-*.h5 files (ascending steps); files stay as given.
std::vector<std::string> checkpoints_of(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const auto& input : inputs) {
    if (std::filesystem::is_directory(input)) {
      const auto found = posthoc_snapshot_checkpoints(RunFolder(input));
      if (found.empty()) throw InputError(input + ": run folder holds no checkpoints (ckpt-*.h5)");
      out.insert(out.end(), found.begin(), found.end());
    } else if (std::filesystem::exists(input)) {
      out.push_back(input);
    } else {
      throw InputError(input + ": no such run folder or checkpoint");
    }
  }
  return out;
}

void ema_reconstruct(const EmaReconstructOptions& opt) {
  const auto sigma_rels = parse_sigma_rels(opt.sigma_rel);
  const auto result = reconstruct_posthoc_emas(checkpoints_of(opt.inputs), sigma_rels, opt.out);
  if (opt.json) {
    nlohmann::json targets = nlohmann::json::array();
    for (size_t j = 0; j < sigma_rels.size(); ++j)
      targets.push_back({{"sigma_rel", sigma_rels[j]}, {"group", result.groups[j]}});
    print_json({{"out", opt.out}, {"images", result.images}, {"snapshots", result.snapshots.size()}, {"targets", targets}});
    return;
  }
  std::cout << fmt::format("{}: post-hoc EMA at {} images from {} snapshots\n", opt.out, result.images,
                           result.snapshots.size());
  for (size_t j = 0; j < sigma_rels.size(); ++j)
    std::cout << fmt::format("  sigma_rel {:<8} group /{}  (cmbench sample --ema {})\n", sigma_rels[j], result.groups[j],
                             result.groups[j].substr(4));
}

}  // namespace

void add_ema_commands(CLI::App& app) {
  auto* ema = app.add_subcommand("ema", "EMA profiles of trained runs");
  ema->require_subcommand(1);

  auto opt = std::make_shared<EmaReconstructOptions>();
  auto* reconstruct = ema->add_subcommand(
      "reconstruct", "EDM2's post-hoc EMA for other sigma_rel from the power-function EMA snapshots of a run");
  reconstruct->add_option("inputs", opt->inputs, "run folders (every ckpt-*.h5) or checkpoint files")->required();
  reconstruct->add_option("--sigma-rel", opt->sigma_rel, "target relative standard deviations a,b,...")->required();
  reconstruct->add_option("--out", opt->out, "output checkpoint (.h5): the last input's weights plus one "
                                             "ema.posthoc-<sigma_rel> group per target")->required();
  reconstruct->add_flag("--json", opt->json, "print one JSON object");
  on_selected(reconstruct, [opt] { ema_reconstruct(*opt); });
}

}  // namespace cmbench::cli

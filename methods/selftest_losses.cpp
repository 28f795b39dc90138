#include "methods/selftest_losses.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "methods/loss_case.h"
#include "methods/registry.h"

namespace cmbench {

double SelftestReport::max_error() const {
  double worst = 0;
  for (const auto& c : checks) worst = std::isnan(c.error) ? INFINITY : std::max(worst, c.error);
  return worst;
}

double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(got[i] - want[i]);
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    scale = std::max(scale, std::abs(want[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

SelftestReport run_loss_selftest(const std::string& npz_path, double tolerance) {
  namespace fs = std::filesystem;
  const auto manifest_path = fs::path(npz_path).replace_extension(".json").string();
  if (!fs::exists(npz_path)) throw InputError(npz_path + ": no such file");
  if (!fs::exists(manifest_path)) throw InputError(manifest_path + ": manifest missing (FILE.json beside FILE.npz)");
  const auto arrays = read_npz(npz_path);
  nlohmann::json manifest;
  try {
    std::ifstream in(manifest_path);
    manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(manifest_path + ": " + e.what());
  }
  if (!manifest.contains("cases") || !manifest["cases"].is_array())
    throw InputError(manifest_path + ": no 'cases' array");

  auto get = [&](const std::string& key) {
    auto it = arrays.find(key);
    if (it == arrays.end()) throw InputError(npz_path + ": missing key '" + key + "'");
    return to_tensor(it->second).to(torch::kFloat64);
  };
  const auto x0 = get("x0");
  const auto eps = get("eps");
  const double toy_a = get("toy_a").item<double>(), toy_b = get("toy_b").item<double>();

  SelftestReport report;
  report.tolerance = tolerance;
  const std::regex stage_prefix("^stage[0-9]+_");
  for (const auto& spec : manifest["cases"]) {
    const LossCase c(spec, arrays, manifest_path);
    const auto method_name = c.text("method");
    if (!method_registry().contains(method_name))
      c.fail("unknown method '" + method_name + "' (known: " + method_registry().joined_names() + ")");
    const auto* translate = method_registry().loss_case_translation(method_name);
    if (!translate) c.fail("method '" + method_name + "' has no loss-case translation in its registry entry");

    LossCaseInputs in;
    in.set_text("name", method_name);
    in.batch.images = x0;
    in.draws["eps"] = eps;
    in.nets.student = c.toy_network(spec, toy_a, toy_b);
    if (c.has("labels")) {
      const auto labels = c.tensor("labels").to(torch::kInt64);
      in.batch.labels = torch::one_hot(labels, labels.max().item<int64_t>() + 1).to(torch::kFloat64);
    }
    (*translate)(c, in);

    const auto method = make_method(in.options);
    if (c.has("stage"))
      in.context.step = static_cast<int64_t>(c.number("stage")) * method->resolved().at("stage_steps").get<int64_t>();
    in.nets.student->train();
    const auto result = method->loss(in.batch, in.draws, in.context, in.nets);
    auto outputs = result.outputs;
    outputs["per_sample"] = result.per_sample;
    outputs["loss"] = result.per_sample.mean();

    for (const auto& name_json : spec.at("outputs")) {
      const auto name = name_json.get<std::string>();
      const auto key = c.prefix() + name;
      const auto output_name = std::regex_replace(name, stage_prefix, "");
      auto it = outputs.find(output_name);
      if (it == outputs.end()) c.fail("method '" + method_name + "' produces no output '" + output_name + "'");
      const auto want = arrays.find(key);
      if (want == arrays.end()) throw InputError(npz_path + ": missing key '" + key + "'");
      const auto got = it->second.detach().to(torch::kFloat64).contiguous();
      const auto want_values = want->second.to_doubles();
      std::vector<double> got_values(got.data_ptr<double>(), got.data_ptr<double>() + got.numel());
      report.checks.push_back({key, relative_error(got_values, want_values)});
    }
  }
  return report;
}

}  // namespace cmbench

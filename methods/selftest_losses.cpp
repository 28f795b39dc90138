#include "methods/selftest_losses.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "methods/registry.h"
#include "methods/toy_networks.h"

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

namespace {

class Case {
 public:
  Case(const nlohmann::json& spec, const NpzMap& arrays, std::string source)
      : spec_(spec), arrays_(arrays), source_(std::move(source)) {
    prefix_ = text("prefix");
  }

  std::string text(const std::string& key) const {
    if (!spec_.contains(key) || !spec_.at(key).is_string()) fail("missing string '" + key + "'");
    return spec_.at(key).get<std::string>();
  }
  bool has(const std::string& key) const { return spec_.contains(key) && !spec_.at(key).is_null(); }

  // A parameter given inline (number) or by npz key (string).
  torch::Tensor tensor(const std::string& key) const { return lookup(spec_.at(key), key); }
  torch::Tensor lookup(const nlohmann::json& value, const std::string& what) const {
    if (value.is_number()) return torch::tensor(value.get<double>(), torch::kFloat64);
    if (value.is_string()) return array(value.get<std::string>());
    fail("parameter '" + what + "' must be a number or an npz key");
  }
  double number(const std::string& key) const {
    if (!has(key)) fail("missing parameter '" + key + "'");
    return tensor(key).item<double>();
  }
  torch::Tensor array(const std::string& name) const {
    auto it = arrays_.find(name);
    if (it == arrays_.end()) fail("npz has no key '" + name + "'");
    auto t = to_tensor(it->second);
    return t.is_floating_point() ? t.to(torch::kFloat64) : t;
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw InputError(source_ + ": case '" + prefix_ + "': " + problem);
  }
  const std::string& prefix() const { return prefix_; }
  const nlohmann::json& spec() const { return spec_; }

 private:
  const nlohmann::json& spec_;
  const NpzMap& arrays_;
  std::string source_, prefix_;
};

PrecondConfig toy_precond(const Case& c, const std::string& form_key = "precond", const nlohmann::json* spec = nullptr) {
  const auto& s = spec ? *spec : c.spec();
  PrecondConfig p;
  p.train.form = parse_precond_form(s.value(form_key, std::string("edm")));
  p.train.eps_b = s.value("eps_b", 0.002);
  p.eval = p.train;
  p.sigma_data = 0.5;
  return p;
}

// The manifest's weight formulas, as ECT's option names.
std::string weight_option(const Case& c) {
  const auto w = c.text("weight");
  if (w == "1/(t-r)") return "inverse_gap";
  if (w == "1/t^2+1/sigma_data^2") return "edm";
  c.fail("unknown weight '" + w + "'");
}

std::string distance_option(const Case& c) {
  const auto d = c.spec().value("distance", std::string("mean over C*H*W of squared difference"));
  if (d == "mean over C*H*W of squared difference") return "l2";
  c.fail("unknown distance '" + d + "'");
}

std::string number_text(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

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
    const Case c(spec, arrays, manifest_path);
    const auto method_name = c.text("method");
    Config table;
    table.set("name=\"" + method_name + "\"");
    TrainingBatch batch{x0, {}, {}, {}};
    TensorMap draws{{"eps", eps}};
    StepContext ctx;
    Networks nets;
    nets.student = std::make_shared<ToyDenoiser>(toy_a, toy_b, toy_precond(c));

    if (method_name == "ect" || method_name == "sct") {
      for (const char* key : {"q", "k", "b", "c"}) table.set(std::string(key) + "=" + number_text(c.number(key)));
      table.set("weight=\"" + weight_option(c) + "\"");
      if (method_name == "sct") {
        table.set("reference_set=\"" + c.text("reference_set") + "\"");
        if (c.has("labels")) {
          const auto labels = c.tensor("labels").to(torch::kInt64);
          batch.labels = torch::one_hot(labels, labels.max().item<int64_t>() + 1).to(torch::kFloat64);
        }
      }
      draws["t"] = c.tensor("t");
    } else if (method_name == "ict" || method_name == "ct" || method_name == "cd") {
      table.set("grid_points=" + std::to_string(static_cast<int64_t>(c.number("grid_points"))));
      if (method_name != "ict") table.set("distance=\"" + distance_option(c) + "\"");
      draws["index"] = c.tensor("index").to(torch::kInt64);
      if (method_name == "cd") {
        const auto& teacher = spec.at("teacher");
        nets.teacher = std::make_shared<ToyDenoiser>(c.lookup(teacher.at("toy_a"), "teacher.toy_a").item<double>(),
                                                     c.lookup(teacher.at("toy_b"), "teacher.toy_b").item<double>(),
                                                     toy_precond(c, "precond", &teacher));
        if (teacher.value("solver", std::string("heun")) != "heun") c.fail("only the heun teacher solver exists");
      }
    } else if (method_name == "edm") {
      draws["sigma"] = c.tensor("sigma");
    } else {
      c.fail("unknown method '" + method_name + "'");
    }

    const auto method = make_method(table);
    if (c.has("stage")) ctx.step = static_cast<int64_t>(c.number("stage")) * method->resolved().at("stage_steps").get<int64_t>();
    nets.student->train();
    const auto result = method->loss(batch, draws, ctx, nets);
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

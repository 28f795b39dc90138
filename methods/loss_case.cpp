#include "methods/loss_case.h"

#include <sstream>

#include "core/error.h"
#include "core/npy_torch.h"

namespace cmbench {

LossCase::LossCase(const nlohmann::json& spec, const NpzMap& arrays, std::string source)
    : spec_(spec), arrays_(arrays), source_(std::move(source)) {
  prefix_ = text("prefix");
}

std::string LossCase::text(const std::string& key) const {
  if (!spec_.contains(key) || !spec_.at(key).is_string()) fail("missing string '" + key + "'");
  return spec_.at(key).get<std::string>();
}

torch::Tensor LossCase::lookup(const nlohmann::json& value, const std::string& what) const {
  if (value.is_number()) return torch::tensor(value.get<double>(), torch::kFloat64);
  if (value.is_string()) return array(value.get<std::string>());
  fail("parameter '" + what + "' must be a number or an npz key");
}

double LossCase::number(const std::string& key) const {
  if (!has(key)) fail("missing parameter '" + key + "'");
  return tensor(key).item<double>();
}

torch::Tensor LossCase::array(const std::string& name) const {
  auto it = arrays_.find(name);
  if (it == arrays_.end()) fail("npz has no key '" + name + "'");
  auto t = to_tensor(it->second);
  return t.is_floating_point() ? t.to(torch::kFloat64) : t;
}

std::shared_ptr<ToyDenoiser> LossCase::toy_network(const nlohmann::json& spec, double a, double b) const {
  PrecondConfig p;
  p.train.form = parse_precond_form(spec.value("precond", std::string("edm")));
  p.train.eps_b = spec.value("eps_b", 0.002);
  p.eval = p.train;
  p.sigma_data = 0.5;
  return std::make_shared<ToyDenoiser>(a, b, p);
}

void LossCase::fail(const std::string& problem) const {
  throw InputError(source_ + ": case '" + prefix_ + "': " + problem);
}

void LossCaseInputs::set_number(const std::string& key, double value) {
  std::ostringstream s;
  s.precision(17);
  s << value;
  options.set(key + "=" + s.str());
}

void LossCaseInputs::set_integer(const std::string& key, int64_t value) { options.set(key + "=" + std::to_string(value)); }

void LossCaseInputs::set_text(const std::string& key, const std::string& value) {
  options.set(key + "=" + nlohmann::json(value).dump());
}

}  // namespace cmbench

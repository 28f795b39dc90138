#include "nets/precond.h"

#include "core/error.h"

namespace cmbench {

PrecondForm parse_precond_form(const std::string& name) {
  if (name == "edm") return PrecondForm::edm;
  if (name == "cm") return PrecondForm::cm;
  throw InputError("precond form '" + name + "': expected edm or cm");
}

std::string precond_form_name(PrecondForm form) { return form == PrecondForm::edm ? "edm" : "cm"; }

namespace {

PrecondMode parse_mode(const Config& table, const std::string& key, PrecondMode mode) {
  if (!table.has(key)) return mode;
  const auto sub = table.sub(key);
  const auto unknown = sub.unknown_keys({"form", "eps_b"});
  if (!unknown.empty()) throw InputError(sub.where() + ": unknown key 'precond." + key + "." + unknown.front() + "'");
  if (sub.has("form")) mode.form = parse_precond_form(sub.get<std::string>("form"));
  mode.eps_b = sub.get_or<double>("eps_b", mode.eps_b);
  return mode;
}

PrecondMode mode_from_json(const nlohmann::json& object, const char* key, PrecondMode mode) {
  if (!object.contains(key)) return mode;
  const auto& m = object.at(key);
  if (!m.is_object()) throw InputError(std::string("precond.") + key + ": expected an object");
  if (m.contains("form")) mode.form = parse_precond_form(m.at("form").get<std::string>());
  if (m.contains("eps_b")) mode.eps_b = m.at("eps_b").get<double>();
  return mode;
}

}  // namespace

PrecondConfig parse_precond_config(const Config& table) {
  const auto unknown = table.unknown_keys({"train", "eval", "sigma_data", "c_noise_scale"});
  if (!unknown.empty()) throw InputError(table.where() + ": unknown key 'precond." + unknown.front() + "'");
  PrecondConfig c;
  c.train = parse_mode(table, "train", c.train);
  c.eval = parse_mode(table, "eval", c.eval);
  c.sigma_data = table.get_or<double>("sigma_data", c.sigma_data);
  c.c_noise_scale = table.get_or<double>("c_noise_scale", c.c_noise_scale);
  if (!(c.sigma_data > 0)) throw InputError(table.where("sigma_data") + ": precond.sigma_data must be > 0");
  return c;
}

nlohmann::json precond_to_json(const PrecondConfig& precond) {
  auto mode = [](const PrecondMode& m) {
    return nlohmann::json{{"form", precond_form_name(m.form)}, {"eps_b", m.eps_b}};
  };
  return {{"train", mode(precond.train)},
          {"eval", mode(precond.eval)},
          {"sigma_data", precond.sigma_data},
          {"c_noise_scale", precond.c_noise_scale}};
}

PrecondConfig precond_from_json(const nlohmann::json& object) {
  PrecondConfig c;
  if (object.is_null()) return c;
  if (!object.is_object()) throw InputError("precond: expected an object");
  try {
    c.train = mode_from_json(object, "train", c.train);
    c.eval = mode_from_json(object, "eval", c.eval);
    c.sigma_data = object.value("sigma_data", c.sigma_data);
    c.c_noise_scale = object.value("c_noise_scale", c.c_noise_scale);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("precond: ") + e.what());
  }
  return c;
}

PrecondCoefficients precond_coefficients(const PrecondMode& mode, double sigma_data, double c_noise_scale,
                                         const torch::Tensor& sigma) {
  const double sd2 = sigma_data * sigma_data;
  const auto norm = (sigma.square() + sd2).sqrt();
  PrecondCoefficients c;
  if (mode.form == PrecondForm::edm) {
    c.c_skip = sd2 / (sigma.square() + sd2);
    c.c_out = sigma * sigma_data / norm;
  } else {
    // Song et al. 2023, appendix C: only the numerator of c_out is shifted by eps_b.
    const auto shifted = sigma - mode.eps_b;
    c.c_skip = sd2 / (shifted.square() + sd2);
    c.c_out = shifted * sigma_data / norm;
  }
  c.c_in = 1.0 / norm;
  c.c_noise = sigma.log() * c_noise_scale;
  return c;
}

torch::Tensor precondition(const PrecondMode& mode, double sigma_data, double c_noise_scale, const RawNetwork& network,
                           const torch::Tensor& x, const torch::Tensor& sigma) {
  const auto s = sigma.to(x.dtype()).reshape({-1});
  if (s.size(0) != x.size(0)) throw InputError("precondition: sigma must have one level per image");
  const auto is_zero = s == 0;
  const auto safe = torch::where(is_zero, torch::ones_like(s), s);
  const auto c = precond_coefficients(mode, sigma_data, c_noise_scale, safe);
  auto view = [&](const torch::Tensor& t) {
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[0] = -1;
    return t.reshape(shape);
  };
  const auto f = network(view(c.c_in) * x, c.c_noise).to(x.dtype());
  const auto out = view(c.c_skip) * x + view(c.c_out) * f;
  return torch::where(view(is_zero), x, out);
}

}  // namespace cmbench

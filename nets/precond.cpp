#include "nets/precond.h"

#include "core/error.h"

namespace cmbench {

PrecondForm parse_precond_form(const std::string& name) {
  if (name == "edm") return PrecondForm::edm;
  if (name == "cm") return PrecondForm::cm;
  throw InputError("precond form '" + name + "': expected edm or cm");
}

std::string precond_form_name(PrecondForm form) { return form == PrecondForm::edm ? "edm" : "cm"; }

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

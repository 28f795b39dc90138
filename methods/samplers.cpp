#include "methods/samplers.h"

#include <cmath>

#include "core/error.h"
#include "methods/schedules.h"

namespace cmbench {

DenoiseFn make_denoise_fn(Denoiser& net, const torch::Tensor& labels, double guidance) {
  return [&net, labels, guidance](const torch::Tensor& x, const torch::Tensor& sigma) {
    net.eval();
    torch::NoGradGuard no_grad;
    const auto conditional = net.forward(x, sigma, labels).to(torch::kFloat64);
    if (guidance == 1.0 || !labels.defined()) return conditional;
    const auto unconditional = net.forward(x, sigma, torch::zeros_like(labels)).to(torch::kFloat64);
    return unconditional + guidance * (conditional - unconditional);
  };
}

DenoiseFn clamp_denoised(DenoiseFn denoise) {
  return [denoise = std::move(denoise)](const torch::Tensor& x, const torch::Tensor& sigma) {
    return denoise(x, sigma).clamp(-1.0, 1.0);
  };
}

torch::Tensor per_image_normal(std::vector<torch::Generator>& generators, torch::IntArrayRef shape,
                               const torch::Device& device) {
  std::vector<torch::Tensor> rows;
  rows.reserve(generators.size());
  for (auto& g : generators) rows.push_back(torch::randn(shape, g, torch::kFloat64));
  return torch::stack(rows).to(device);
}

namespace {

torch::Tensor level(double value, const torch::Tensor& x) {
  return torch::full({x.size(0)}, value, x.options().dtype(torch::kFloat64));
}

void check_batch(const torch::Tensor& latents, const std::vector<torch::Generator>& generators) {
  if (latents.dim() < 2 || latents.size(0) != static_cast<int64_t>(generators.size()))
    throw InputError("sampler: one generator per image needed (" + std::to_string(generators.size()) +
                     " for a batch of " + std::to_string(latents.size(0)) + ")");
}

}  // namespace

SampleResult heun_sample(const DenoiseFn& denoise, const torch::Tensor& latents, std::vector<torch::Generator>& generators,
                         const HeunOptions& o) {
  check_batch(latents, generators);
  if (o.steps() < 2) throw InputError("heun sampler: --steps must be at least 2");
  const auto grid = karras_sigmas(o.steps(), o.sigma_min(), o.sigma_max(), o.rho());
  std::vector<double> t(grid.data_ptr<double>(), grid.data_ptr<double>() + grid.numel());
  t.push_back(0.0);
  const auto shape = latents.sizes().slice(1);
  auto x = latents.to(torch::kFloat64) * t[0];
  SampleResult result;
  for (int64_t i = 0; i < o.steps(); ++i) {
    const double t_cur = t[i], t_next = t[i + 1];
    // Churn: raise the level to t_hat and add the matching noise (EDM Algorithm 2). The draw is made
    // on every step, as EDM's sampler does, so seeds reproduce its images with and without churn.
    const double gamma = (o.s_min() <= t_cur && t_cur <= o.s_max())
                             ? std::min(o.s_churn() / static_cast<double>(o.steps()), std::sqrt(2.0) - 1)
                             : 0.0;
    const double t_hat = t_cur + gamma * t_cur;
    const auto z = per_image_normal(generators, shape, x.device());
    const auto x_hat = x + std::sqrt(t_hat * t_hat - t_cur * t_cur) * o.s_noise() * z;
    const auto d_cur = (x_hat - denoise(x_hat, level(t_hat, x))) / t_hat;
    x = x_hat + (t_next - t_hat) * d_cur;
    ++result.nfe;
    if (i < o.steps() - 1) {
      const auto d_prime = (x - denoise(x, level(t_next, x))) / t_next;
      x = x_hat + (t_next - t_hat) * (0.5 * d_cur + 0.5 * d_prime);
      ++result.nfe;
    }
  }
  result.images = x;
  return result;
}

namespace {
void check_levels(const std::vector<double>& levels, double floor, const char* what) {
  if (levels.empty()) throw InputError(std::string(what) + " sampler: no noise levels");
  for (size_t i = 1; i < levels.size(); ++i)
    if (!(levels[i] < levels[i - 1]) || !(levels[i] > floor))
      throw InputError(std::string(what) + " sampler: levels must descend and stay above " + std::to_string(floor));
}
}  // namespace

namespace {
// Shared loop of the consistency samplers: x = f(x, t_i), then x += renoise(t_{i+1}) z.
template <class Renoise>
SampleResult multistep(const DenoiseFn& denoise, const torch::Tensor& latents, std::vector<torch::Generator>& generators,
                       const std::vector<double>& levels, Renoise renoise) {
  const auto shape = latents.sizes().slice(1);
  auto x = latents.to(torch::kFloat64) * levels[0];
  SampleResult result;
  for (size_t i = 0; i < levels.size(); ++i) {
    x = denoise(x, level(levels[i], x));
    ++result.nfe;
    if (i + 1 < levels.size()) x = x + renoise(levels[i + 1]) * per_image_normal(generators, shape, x.device());
  }
  result.images = x;
  return result;
}
}  // namespace

SampleResult cm_sample(const DenoiseFn& denoise, const torch::Tensor& latents, std::vector<torch::Generator>& generators,
                       const std::vector<double>& levels, double eps_b) {
  check_batch(latents, generators);
  check_levels(levels, eps_b, "cm");
  return multistep(denoise, latents, generators, levels,
                   [eps_b](double next) { return std::sqrt(next * next - eps_b * eps_b); });
}

SampleResult ect_sample(const DenoiseFn& denoise, const torch::Tensor& latents, std::vector<torch::Generator>& generators,
                        const std::vector<double>& levels) {
  check_batch(latents, generators);
  check_levels(levels, 0.0, "ect");
  return multistep(denoise, latents, generators, levels, [](double next) { return next; });
}

}  // namespace cmbench

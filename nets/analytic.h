// Analytic denoisers: the exact posterior mean D(x, sigma) = E[x0 | x0 + sigma * eps = x] for data
// distributions with a closed form. They have no parameters and implement the Denoiser interface, so
// samplers and methods can be tested against exact answers (an ideal denoiser, an exact PF-ODE).
//
// Isotropic Gaussian x0 ~ N(mean, std^2 I):  D = mean + std^2 / (std^2 + sigma^2) (x - mean).
// Gaussian mixture sum_k w_k N(mean_k, var_k I): with r_k(x) = p(k | x) proportional to
//   w_k N(x; mean_k, (var_k + sigma^2) I),  D = sum_k r_k (mean_k + var_k / (var_k + sigma^2) (x - mean_k)).
// Computed in float64; preconditioning forms and module mode do not apply (the posterior mean is the
// exact D in every form). Class and augment labels are ignored.
#pragma once

#include "nets/denoiser.h"

namespace cmbench {

class GaussianDenoiser : public Denoiser {
 public:
  // mean: a tensor broadcastable to (C, H, W) (a scalar tensor for a constant mean); std > 0.
  GaussianDenoiser(int64_t img_resolution, int64_t img_channels, torch::Tensor mean, double std);

  torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels,
                        const torch::Tensor& augment_labels, const PrecondMode& mode) override;
  NamedTensors state() override { return {}; }

 private:
  torch::Tensor mean_;  // (C, H, W) float64
  double std_;
};

class GaussianMixtureDenoiser : public Denoiser {
 public:
  // means: (K, C, H, W) or (K,) (constant images); variances (K,) >= 0; weights (K,) > 0 (normalized here).
  GaussianMixtureDenoiser(int64_t img_resolution, int64_t img_channels, torch::Tensor means, torch::Tensor variances,
                          torch::Tensor weights);

  torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels,
                        const torch::Tensor& augment_labels, const PrecondMode& mode) override;
  NamedTensors state() override { return {}; }

  // p(k | x_sigma) for every row: (N, K) float64.
  torch::Tensor responsibilities(const torch::Tensor& x, const torch::Tensor& sigma) const;

 private:
  torch::Tensor means_;      // (K, D) float64
  torch::Tensor variances_;  // (K,) float64
  torch::Tensor log_weights_;
};

// From a resolved `net` object: arch "gaussian" {mean, std} or "gmm" {means (K or K*D values),
// variances (K), weights (K)}, with img_resolution and in_channels.
std::unique_ptr<Denoiser> make_analytic_denoiser(const nlohmann::json& config, const PrecondConfig& precond);

}  // namespace cmbench

// Analytic denoisers: the exact posterior mean D(x, sigma) = E[x0 | x0 + sigma * eps = x] for data
// distributions with a closed form. They have no parameters and implement the Denoiser interface, so
// samplers and methods can be tested against exact answers (an ideal denoiser, an exact PF-ODE).
//
// Isotropic Gaussian x0 ~ N(mean, std^2 I):  D = mean + std^2 / (std^2 + sigma^2) (x - mean).
// Gaussian mixture: core's GaussianMixture (low-rank plus isotropic components, core/gaussian_mixture.h),
// either isotropic components given inline (net.means, variances, weights) or a mixture file
// (net.mixture = "FILE.npz", e.g. `cmbench truth fit`'s), so that the exact denoiser of a ground-truth
// data set serves as a network (an exact EDM teacher, `cmbench sample` of the true distribution).
// Computed in float64; preconditioning forms and module mode do not apply (the posterior mean is the
// exact D in every form). Class and augment labels are ignored.
#pragma once

#include <memory>
#include <string>

#include "core/gaussian_mixture.h"
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
  // Isotropic components (rank 0): means (K, C, H, W) or (K,) (constant images); variances (K,) >= 0;
  // weights (K,) > 0 (normalized here).
  GaussianMixtureDenoiser(int64_t img_resolution, int64_t img_channels, torch::Tensor means, torch::Tensor variances,
                          torch::Tensor weights);
  // The mixture saved in `mixture_file` (GaussianMixture::save). InputError naming the file unless its
  // shape is (img_channels, img_resolution, img_resolution), or when `expected_sha256` (a checkpoint's
  // record of the file) is given and differs from the file's fingerprint.
  GaussianMixtureDenoiser(int64_t img_resolution, int64_t img_channels, const std::string& mixture_file,
                          const std::string& expected_sha256 = "");

  torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels,
                        const torch::Tensor& augment_labels, const PrecondMode& mode) override;
  NamedTensors state() override { return {}; }

  // p(k | x_sigma) for every row: (N, K) float64.
  torch::Tensor responsibilities(const torch::Tensor& x, const torch::Tensor& sigma) const;
  const GaussianMixture& mixture() const { return *mixture_; }

 private:
  // The file form's config records the file and its fingerprint (mixture_sha256).
  GaussianMixtureDenoiser(std::shared_ptr<const GaussianMixture> mixture, const std::string& mixture_file);

  std::shared_ptr<const GaussianMixture> mixture_;
};

// From a resolved `net` object: arch "gaussian" {mean, std} or "gmm" {mixture (a file; then the inline
// keys are not read), else means (K or K*D values), variances (K), weights (K)}, with img_resolution
// and in_channels.
std::unique_ptr<Denoiser> make_analytic_denoiser(const nlohmann::json& config, const PrecondConfig& precond);

}  // namespace cmbench

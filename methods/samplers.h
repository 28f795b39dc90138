// Samplers (METHODS.md §3, §4, §6): EDM's Heun solver with optional churn, the CM one-step and
// multistep rule (Algorithm 1, re-noising with sqrt(t^2 - eps_b^2) z), and ECT's multistep rule
// (re-noising with t z). The state is float64; image i draws every re-noising sample from its own
// generator (EDM's generate.py), so any subset of a seed range reproduces exactly.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "nets/denoiser.h"

namespace cmbench {

// D(x, sigma) for a batch: x (N, C, H, W) float64, sigma (N,) float64; returns float64.
using DenoiseFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& sigma)>;

// The network in eval mode under no-grad with its eval preconditioning. With one-hot `labels` and
// guidance != 1: D_u + guidance (D_c - D_u), D_u with zero labels (classifier-free guidance).
DenoiseFn make_denoise_fn(Denoiser& net, const torch::Tensor& labels, double guidance = 1.0);

// `denoise` with every x0 estimate clamped to [-1, 1] (openai consistency_models' clip_denoised).
DenoiseFn clamp_denoised(DenoiseFn denoise);

// Standard normal (N, shape...) with row i drawn from generators[i] (float64, CPU), moved to `device`.
torch::Tensor per_image_normal(std::vector<torch::Generator>& generators, torch::IntArrayRef shape,
                               const torch::Device& device);

struct HeunOptions {
  TORCH_ARG(int64_t, steps) = 18;  // Karras grid points before the appended 0; NFE = 2 steps - 1
  TORCH_ARG(double, sigma_min) = 0.002;
  TORCH_ARG(double, sigma_max) = 80.0;
  TORCH_ARG(double, rho) = 7.0;
  TORCH_ARG(double, s_churn) = 0.0;
  TORCH_ARG(double, s_min) = 0.0;
  TORCH_ARG(double, s_max) = std::numeric_limits<double>::infinity();
  TORCH_ARG(double, s_noise) = 1.0;
};

struct SampleResult {
  torch::Tensor images;  // float64 (N, C, H, W), unclamped
  int64_t nfe = 0;       // network evaluations per image (guidance doubles the real count)
};

// `latents` are standard normal (N, C, H, W); each sampler scales them by its first level.
SampleResult heun_sample(const DenoiseFn& denoise, const torch::Tensor& latents, std::vector<torch::Generator>& generators,
                         const HeunOptions& options);

// CM: levels t_0 = sigma_max > t_1 > ... (> eps_b); x0 = f(x, t_i), then x = x0 + sqrt(t_{i+1}^2 - eps_b^2) z.
SampleResult cm_sample(const DenoiseFn& denoise, const torch::Tensor& latents, std::vector<torch::Generator>& generators,
                       const std::vector<double>& levels, double eps_b);

// ECT: levels t_0 = sigma_max > t_1 > ... > 0; x = f(x, t_i), then x = x + t_{i+1} z.
SampleResult ect_sample(const DenoiseFn& denoise, const torch::Tensor& latents, std::vector<torch::Generator>& generators,
                        const std::vector<double>& levels);

}  // namespace cmbench

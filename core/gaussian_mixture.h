// A ground-truth data distribution: a Gaussian mixture on images of shape (C, H, W), D = C*H*W,
//
//   p(x0) = sum_k w_k N(x0; m_k, Sigma_k),   Sigma_k = s_k^2 I + U_k diag(lambda_k) U_k^T,
//
// U_k a D x R matrix of orthonormal columns (R = 0: isotropic components). Everything a consistency
// model learns is known exactly for it: the density of x_sigma = x0 + sigma * eps (each component
// convolved with sigma^2 I), the posterior p(x0 | x_sigma) (component responsibilities times Gaussian
// posteriors), the posterior mean D(x, sigma) (the ideal denoiser), and by a float64 solve of the
// PF-ODE dx/dsigma = (x - D(x, sigma)) / sigma the exact consistency function f*(x_t, t).
// Every computation runs in float64 on the CPU; inputs of any dtype are converted.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/image_values.h"  // quantize_images, dequantize_images: draws as stored pixels

namespace cmbench {

struct GaussianMixtureParts {
  std::vector<int64_t> shape;      // {C, H, W}
  torch::Tensor weights;           // (K,) > 0, normalized on construction
  torch::Tensor means;             // (K, D)
  torch::Tensor noise_variances;   // (K,) s_k^2 > 0
  torch::Tensor factors;           // (K, D, R) orthonormal columns per component; R may be 0
  torch::Tensor factor_variances;  // (K, R) lambda_k >= 0
};

class GaussianMixture {
 public:
  // InputError naming `source` for inconsistent shapes, non-positive weights or variances, or factors
  // that are not orthonormal within 1e-6.
  explicit GaussianMixture(GaussianMixtureParts parts, const std::string& source = "gaussian mixture");

  // The .npz layout (save writes it, load reads it; h5py/numpy readable): shape int64 (3,), weights
  // (K,), means (K, D), noise_variances (K,), factors (K, D, R), factor_variances (K, R), all float64
  // except shape. InputError naming the file for a missing key or a wrong shape.
  static GaussianMixture load(const std::string& path);
  void save(const std::string& path) const;

  const GaussianMixtureParts& parts() const { return parts_; }
  const std::vector<int64_t>& shape() const { return parts_.shape; }  // {C, H, W}
  int64_t components() const;
  int64_t dimension() const;  // D
  int64_t rank() const;       // R
  // sha256 of the parameters' bytes (stored with every metric row that compares against the mixture).
  std::string fingerprint() const;

  // n draws x0 ~ p, (n, C, H, W) float64.
  torch::Tensor sample(int64_t n, torch::Generator generator) const;
  // log p_sigma(x) of each row of x (N, C, H, W) under the mixture convolved with N(0, sigma^2 I); sigma
  // (N,) or a scalar tensor, >= 0. (N,) float64, in nats.
  torch::Tensor log_prob(const torch::Tensor& x, const torch::Tensor& sigma) const;
  // p(k | x_sigma): (N, K).
  torch::Tensor responsibilities(const torch::Tensor& x, const torch::Tensor& sigma) const;
  // The ideal denoiser E[x0 | x_sigma = x]: (N, C, H, W). Rows with sigma == 0 return x.
  torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma) const;
  // One draw x0 ~ p(x0 | x_sigma = x) per row: (N, C, H, W). sigma > 0.
  torch::Tensor sample_posterior(const torch::Tensor& x, const torch::Tensor& sigma, torch::Generator generator) const;

  // Mean (D,) and covariance (D, D) of p (the Fréchet distance's reference, closed form).
  torch::Tensor mean() const;
  torch::Tensor covariance() const;

  // The PF-ODE solution from x at level `from` to level `to` (rows of (N,), from > to >= 0), by
  // classical RK4 in u = log(sigma) (dx/du = x - D(x, e^u)) on a uniform grid, the steps doubled until
  // the Richardson estimate |x_2n - x_n| / 15 is below `tolerance` in every element. A target level
  // below `floor_sigma` (default 1e-6 * min_k s_k) is replaced by it: the remaining change is below
  // floor^2 / (2 min s_k^2) per element (the drift is (sigma^2 / s^2)-small), added to the bound.
  struct OdeSolution {
    torch::Tensor x;           // (N, C, H, W)
    double error_bound = 0;    // max over elements of the estimated absolute error
    int64_t steps = 0;         // RK4 steps of the accepted solve
  };
  OdeSolution solve_ode(const torch::Tensor& x, const torch::Tensor& from, const torch::Tensor& to,
                        double tolerance = 1e-7) const;
  // f*(x_t, t): the PF-ODE solution at level 0 (the clean image the trajectory ends on).
  OdeSolution consistency_function(const torch::Tensor& x_t, const torch::Tensor& t, double tolerance = 1e-7) const;

 private:
  GaussianMixtureParts parts_;
  torch::Tensor log_weights_;
};

// The fixed probe set of the ground-truth metrics: per noise-level bucket, `per_bucket` points
// x_t = x0 + t eps with x0 ~ p and t log-uniform within the bucket, all from `seed`; with the exact
// consistency function f*(x_t, t) of each. Buckets are consecutive pairs of truth_bucket_edges().
inline const std::vector<double>& truth_bucket_edges() {
  static const std::vector<double> edges = {0.002, 0.02, 0.1, 0.5, 2.0, 10.0, 80.0};
  return edges;
}
inline int64_t truth_bucket_count() { return static_cast<int64_t>(truth_bucket_edges().size()) - 1; }

struct TruthProbes {
  torch::Tensor x0;        // (P, C, H, W) float64, the clean origin of each probe
  torch::Tensor x_t;       // (P, C, H, W) float64
  torch::Tensor t;         // (P,) float64
  torch::Tensor bucket;    // (P,) int64 in [0, truth_bucket_count())
  torch::Tensor f_star;    // (P, C, H, W) float64, f*(x_t, t)
  double error_bound = 0;  // of f_star (GaussianMixture::OdeSolution)
};
TruthProbes make_truth_probes(const GaussianMixture& mixture, int64_t per_bucket = 64, uint64_t seed = 0);

}  // namespace cmbench

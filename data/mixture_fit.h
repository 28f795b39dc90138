// Fitting a ground-truth Gaussian mixture (core/gaussian_mixture.h) to images (`cmbench truth fit`):
// k-means (k-means++ initialization, Lloyd iterations) splits the images into K clusters; each
// cluster becomes one component with the cluster's share as weight, its mean, and the probabilistic
// PCA of its covariance (Tipping & Bishop 1999): the top-Q eigenvectors as factors, the noise
// variance s^2 the mean of the remaining eigenvalues (floored), factor variances the top eigenvalues
// less s^2 (floored at 0), so that along each factor the component's variance is the eigenvalue.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/gaussian_mixture.h"

namespace cmbench {

// The mean of each (H/R) x (W/R) block: images (N, C, H, W) -> (N, C, R, R) float64. InputError
// unless R divides H and W.
torch::Tensor box_downsample(const torch::Tensor& images, int64_t resolution);

struct KMeansOptions {
  int64_t clusters = 16;
  int64_t iterations = 100;  // at most; Lloyd stops when no point changes cluster
  uint64_t seed = 0;         // k-means++ draws: stream "kmeans" of this seed (core/rng.h)
  // Called after each Lloyd iteration with (iteration, points that changed cluster, mean squared distance).
  std::function<void(int64_t, int64_t, double)> on_iteration;
};

struct KMeansResult {
  torch::Tensor centers;     // (K, D) float64
  torch::Tensor assignment;  // (N,) int64: each point's nearest center
  int64_t iterations = 0;    // Lloyd iterations run
  bool converged = false;    // the last iteration moved no point
};

// Deterministic for a given seed. A cluster left empty takes the point farthest from its center.
// InputError when there are fewer distinct points than clusters.
KMeansResult kmeans(const torch::Tensor& points, const KMeansOptions& options);

struct MixtureFitOptions {
  KMeansOptions kmeans;
  int64_t rank = 8;            // Q factors per component (0: isotropic components)
  double min_variance = 1e-3;  // floor of each component's noise variance s^2
};

struct MixtureFit {
  GaussianMixture mixture;
  KMeansResult clusters;
};

// images (N, C, H, W) float64. InputError for a rank that is not below C*H*W, a non-positive floor,
// or more clusters than images.
MixtureFit fit_gaussian_mixture(const torch::Tensor& images, const MixtureFitOptions& options);

}  // namespace cmbench

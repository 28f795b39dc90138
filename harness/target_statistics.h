// Target statistics (issue 16): how far a consistency method's training target scatters around the
// point it estimates. For a probe (x_t, t) the method trains towards x_r, built from the row's own
// clean image x0 (random given x_t: x0 ~ p(x0 | x_t)) and, for SCT, from the other images of its
// batch and pool (random draws of the data). Repeating the draw gives the target's variance; its
// mean against the exact PF-ODE point at the same (x_t, t, r) gives its bias (metrics/target_spread.h).
//
//   ground truth (a gmm: source): x0 from the exact posterior, references from the mixture, and the
//   exact ODE point (the target_stats metric);
//   image data (CIFAR-10): the empirical distribution of a reference set of images stands in for the
//   data, so its posterior is exact and categorical, p(x0 = y_j | x_t) ~ exp(-||x_t - y_j||^2 / (2 t^2));
//   the reference point is the Euler step of its exact denoiser (the empirical posterior mean).
#pragma once

#include <cstdint>
#include <vector>

#include "core/gaussian_mixture.h"
#include "methods/method.h"
#include "metrics/metric.h"

namespace cmbench {

// For each probe and each of `draws` repetitions, method.target_points from x0 ~ p(x0 | x_t) and
// target_reference_count(batch) fresh references ~ p, shared by the probes of one repetition.
// target_r (P,) and target_x_r (P, draws, C, H, W); both undefined when the method has no target points.
TruthAnswers ground_truth_target_estimates(const Method& method, const GaussianMixture& mixture,
                                           const TruthProbes& probes, int64_t batch, int64_t draws,
                                           const StepContext& ctx);

// Probes on image data: x_t = y_origin + t eps for `per_bucket` origins per bucket (drawn from
// `images`), t log-uniform in the bucket, from `seed`.
struct ImageProbes {
  torch::Tensor x_t, t, bucket;  // (P, C, H, W), (P,), (P,) float64 / int64
  torch::Tensor reference;       // the empirical Euler point at the method's r: filled by empirical_target_estimates
};
ImageProbes make_image_probes(const torch::Tensor& images, int64_t per_bucket, uint64_t seed);

// As ground_truth_target_estimates over the empirical distribution of `images` (N, C, H, W) float64 in
// [-1, 1]: x0 drawn from the categorical posterior, references uniformly from `images`. Fills
// probes.reference with the Euler point (r/t) x_t + (1 - r/t) E[x0 | x_t].
TruthAnswers empirical_target_estimates(const Method& method, const torch::Tensor& images, ImageProbes& probes,
                                        int64_t batch, int64_t draws, const StepContext& ctx);

}  // namespace cmbench

// Fréchet distance between two Gaussians (METRICS.md §3), in float64, without a general matrix
// square root: tr((S1 S2)^(1/2)) = tr((A S2 A)^(1/2)) with A = S1^(1/2) (both symmetric PSD).
#pragma once

#include <torch/torch.h>

#include <string>

#include "metrics/statistics.h"

namespace cmbench {

// tr((S1 S2)^(1/2)) for symmetric positive semi-definite S1, S2 (float64, D x D).
double trace_sqrt_product(const torch::Tensor& sigma1, const torch::Tensor& sigma2);

// ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)). Inputs are converted to float64.
double frechet_distance(const torch::Tensor& mu1, const torch::Tensor& sigma1, const torch::Tensor& mu2,
                        const torch::Tensor& sigma2);

// Statistics a distance can use: finite, sigma symmetric within kStatisticsSymmetryTolerance of its
// largest entry and positive semi-definite within kStatisticsPsdTolerance of its largest eigenvalue
// (rounding of a float32-stored 2048 x 2048 covariance stays orders of magnitude below both; a
// matrix that is not a covariance does not). InputError naming `name` otherwise.
inline constexpr double kStatisticsSymmetryTolerance = 1e-5, kStatisticsPsdTolerance = 1e-4;
void check_statistics(const torch::Tensor& mu, const torch::Tensor& sigma, const std::string& name);

// The Fréchet distance of two sets' statistics, each checked first (check_statistics); InputError
// naming both when their dimensions differ.
double frechet_distance(const FeatureStatistics& a, const std::string& a_name, const FeatureStatistics& b,
                        const std::string& b_name);

}  // namespace cmbench

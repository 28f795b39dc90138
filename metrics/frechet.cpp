#include "metrics/frechet.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/torch_compat.h"

namespace cmbench {

namespace {

// Symmetric PSD square root by eigendecomposition; negative (rounding) eigenvalues clamp to 0.
torch::Tensor psd_sqrt(const torch::Tensor& s) {
  auto [values, vectors] = compat::eigh(s);
  return torch::matmul(vectors * values.clamp_min(0).sqrt().unsqueeze(0), vectors.transpose(0, 1));
}

}  // namespace

void check_statistics(const torch::Tensor& mu, const torch::Tensor& sigma, const std::string& name) {
  const int64_t d = mu.dim() == 1 ? mu.size(0) : 0;
  if (d == 0 || sigma.dim() != 2 || sigma.size(0) != d || sigma.size(1) != d) {
    throw InputError(fmt::format("{}: statistics need mu of shape (D,) and sigma of shape (D, D) with D > 0", name));
  }
  const auto s = sigma.to(torch::kFloat64);
  if (!torch::isfinite(mu).all().item<bool>() || !torch::isfinite(s).all().item<bool>()) {
    throw InputError(fmt::format("{}: statistics hold NaN or inf values", name));
  }
  const double scale = s.abs().max().item<double>();
  const double asymmetry = (s - s.transpose(0, 1)).abs().max().item<double>();
  if (asymmetry > kStatisticsSymmetryTolerance * scale) {
    throw InputError(fmt::format("{}: sigma is not symmetric (largest |sigma - sigma^T| {:.3g}, {:.3g} of its largest "
                                 "entry; tolerance {:g})", name, asymmetry, asymmetry / scale,
                                 kStatisticsSymmetryTolerance));
  }
  torch::Tensor eigenvalues;
  try {
    eigenvalues = compat::eigvalsh((s + s.transpose(0, 1)) * 0.5);
  } catch (const c10::Error& e) {  // LAPACK fails to converge, e.g. when entries near 1e308 overflow
    throw InputError(fmt::format("{}: sigma has no eigendecomposition ({})", name,
                                 std::string(e.what_without_backtrace()).substr(0, 200)));
  }
  const double smallest = eigenvalues.min().item<double>(), largest = eigenvalues.max().item<double>();
  if (smallest < -kStatisticsPsdTolerance * std::max(largest, 0.0)) {
    throw InputError(fmt::format("{}: sigma is not positive semi-definite (smallest eigenvalue {:.3g}, largest {:.3g}; "
                                 "tolerance {:g} of the largest)", name, smallest, largest, kStatisticsPsdTolerance));
  }
}

double trace_sqrt_product(const torch::Tensor& sigma1, const torch::Tensor& sigma2) {
  const auto s1 = sigma1.to(torch::kFloat64);
  const auto s2 = sigma2.to(torch::kFloat64);
  const auto a = psd_sqrt(s1);
  auto m = torch::matmul(torch::matmul(a, s2), a);
  m = (m + m.transpose(0, 1)) * 0.5;
  return compat::eigvalsh(m).clamp_min(0).sqrt().sum().item<double>();
}

double frechet_distance(const torch::Tensor& mu1, const torch::Tensor& sigma1, const torch::Tensor& mu2,
                        const torch::Tensor& sigma2) {
  const auto m1 = mu1.to(torch::kFloat64).flatten();
  const auto m2 = mu2.to(torch::kFloat64).flatten();
  const int64_t d = m1.size(0);
  if (m2.size(0) != d || sigma1.dim() != 2 || sigma2.dim() != 2 || sigma1.size(0) != d || sigma1.size(1) != d ||
      sigma2.size(0) != d || sigma2.size(1) != d) {
    throw InputError("Fréchet distance: mu and sigma dimensions disagree");
  }
  const double mean_term = (m1 - m2).square().sum().item<double>();
  const double traces = sigma1.to(torch::kFloat64).trace().item<double>() + sigma2.to(torch::kFloat64).trace().item<double>();
  return mean_term + traces - 2.0 * trace_sqrt_product(sigma1, sigma2);
}

double frechet_distance(const FeatureStatistics& a, const std::string& a_name, const FeatureStatistics& b,
                        const std::string& b_name) {
  if (a.mu.size(0) != b.mu.size(0)) {
    throw InputError(fmt::format("{}: feature dimension {} differs from {} in {}", b_name, b.mu.size(0), a.mu.size(0),
                                 a_name));
  }
  check_statistics(a.mu, a.sigma, a_name);
  check_statistics(b.mu, b.sigma, b_name);
  // Fewer vectors than dimensions leave the covariance singular, and the distance biased upward by
  // an amount that depends on n: such a value compares only with values of the same n.
  for (const auto& [stats, name] : {std::pair{&a, &a_name}, std::pair{&b, &b_name}}) {
    if (stats->n > 0 && stats->n <= stats->mu.size(0)) {
      spdlog::warn("{}: {} feature vectors in {} dimensions: the covariance is singular and the Fréchet distance "
                   "is biased upward (papers use 50000); compare it only with values from as many", *name, stats->n,
                   stats->mu.size(0));
    }
  }
  return frechet_distance(a.mu, a.sigma, b.mu, b.sigma);
}

}  // namespace cmbench

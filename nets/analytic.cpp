#include "nets/analytic.h"

#include <cmath>

#include "core/error.h"

namespace cmbench {

namespace {

nlohmann::json gaussian_config(int64_t resolution, int64_t channels, const torch::Tensor& mean, double std) {
  const auto full = mean.numel() == 1 ? mean : mean.expand({channels, resolution, resolution});
  const auto flat = full.to(torch::kFloat64).contiguous().reshape({-1});
  std::vector<double> values(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  return {{"arch", "gaussian"}, {"img_resolution", resolution}, {"in_channels", channels},
          {"out_channels", channels}, {"mean", values}, {"std", std}};
}

std::vector<double> to_vector(const torch::Tensor& t) {
  const auto flat = t.to(torch::kFloat64).contiguous().reshape({-1});
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

// Rows with sigma == 0 return x itself (the posterior collapses onto the observation).
torch::Tensor keep_clean_rows(const torch::Tensor& x, const torch::Tensor& levels, const torch::Tensor& d) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = -1;
  return torch::where((levels == 0).reshape(shape), x, d.to(x.dtype()));
}

}  // namespace

GaussianDenoiser::GaussianDenoiser(int64_t img_resolution, int64_t img_channels, torch::Tensor mean, double std)
    : Denoiser(gaussian_config(img_resolution, img_channels, mean, std), PrecondConfig{}), std_(std) {
  if (!(std > 0)) throw InputError("gaussian denoiser: std must be > 0");
  mean_ = mean.to(torch::kFloat64).expand({img_channels, img_resolution, img_resolution}).contiguous();
}

torch::Tensor GaussianDenoiser::denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor&,
                                        const torch::Tensor&, const PrecondMode&) {
  const auto levels = broadcast_sigma(sigma, x.size(0), torch::kFloat64).to(x.device());
  const auto s2 = levels.square().reshape({-1, 1, 1, 1});
  const auto mean = mean_.to(x.device()).unsqueeze(0);
  const double v = std_ * std_;
  const auto d = mean + (v / (v + s2)) * (x.to(torch::kFloat64) - mean);
  return keep_clean_rows(x, levels, d);
}

GaussianMixtureDenoiser::GaussianMixtureDenoiser(int64_t img_resolution, int64_t img_channels, torch::Tensor means,
                                                 torch::Tensor variances, torch::Tensor weights)
    : Denoiser({{"arch", "gmm"}, {"img_resolution", img_resolution}, {"in_channels", img_channels},
                {"out_channels", img_channels}, {"means", to_vector(means)}, {"variances", to_vector(variances)},
                {"weights", to_vector(weights)}},
               PrecondConfig{}) {
  const int64_t k = variances.numel();
  const int64_t d = img_channels * img_resolution * img_resolution;
  if (k == 0 || weights.numel() != k)
    throw InputError("gmm denoiser: variances and weights need one value per component");
  auto m = means.to(torch::kFloat64).reshape({k, -1});
  if (m.size(1) == 1) m = m.expand({k, d});
  if (m.size(1) != d)
    throw InputError("gmm denoiser: means must have K or K*" + std::to_string(d) + " values, got " +
                     std::to_string(means.numel()));
  means_ = m.contiguous();
  variances_ = variances.to(torch::kFloat64).reshape({k});
  const auto w = weights.to(torch::kFloat64).reshape({k});
  if ((variances_ < 0).any().item<bool>() || (w <= 0).any().item<bool>())
    throw InputError("gmm denoiser: variances must be >= 0 and weights > 0");
  log_weights_ = (w / w.sum()).log();
}

torch::Tensor GaussianMixtureDenoiser::responsibilities(const torch::Tensor& x, const torch::Tensor& sigma) const {
  const auto flat = x.to(torch::kFloat64).reshape({x.size(0), -1});
  const auto levels = broadcast_sigma(sigma, x.size(0), torch::kFloat64).to(x.device());
  const auto means = means_.to(x.device());
  const auto total_var = variances_.to(x.device()).unsqueeze(0) + levels.square().unsqueeze(1);  // (N, K)
  // Squared distances through one matrix product: ||x||^2 + ||m||^2 - 2 x.m.
  const auto dist2 = (flat.square().sum(1, true) + means.square().sum(1).unsqueeze(0) - 2 * flat.matmul(means.t()))
                         .clamp_min(0);
  const double dim = static_cast<double>(flat.size(1));
  const auto log_p = log_weights_.to(x.device()).unsqueeze(0) - 0.5 * dim * (2 * M_PI * total_var).log() -
                     dist2 / (2 * total_var);
  return log_p.softmax(1);
}

torch::Tensor GaussianMixtureDenoiser::denoise(const torch::Tensor& x, const torch::Tensor& sigma,
                                               const torch::Tensor&, const torch::Tensor&, const PrecondMode&) {
  const auto levels = broadcast_sigma(sigma, x.size(0), torch::kFloat64).to(x.device());
  const auto safe = torch::where(levels == 0, torch::ones_like(levels), levels);
  const auto r = responsibilities(x, safe);                                    // (N, K)
  const auto flat = x.to(torch::kFloat64).reshape({x.size(0), -1});            // (N, D)
  const auto means = means_.to(x.device());                                   // (K, D)
  const auto var = variances_.to(x.device()).unsqueeze(0);                    // (1, K)
  const auto gain = var / (var + safe.square().unsqueeze(1));                  // (N, K)
  // sum_k r_k (m_k + g_k (x - m_k)) = (sum_k r_k g_k) x + sum_k r_k (1 - g_k) m_k
  const auto d = (r * gain).sum(1, true) * flat + (r * (1 - gain)).matmul(means);
  return keep_clean_rows(x, levels, d.reshape(x.sizes()));
}

std::unique_ptr<Denoiser> make_analytic_denoiser(const nlohmann::json& config, const PrecondConfig& precond) {
  const auto arch = config.at("arch").get<std::string>();
  const auto resolution = config.at("img_resolution").get<int64_t>();
  const auto channels = config.at("in_channels").get<int64_t>();
  auto tensor = [&](const char* key) {
    if (!config.contains(key)) throw InputError("net." + std::string(key) + ": required for arch '" + arch + "'");
    const auto& v = config.at(key);
    std::vector<double> values = v.is_array() ? v.get<std::vector<double>>() : std::vector<double>{v.get<double>()};
    return torch::tensor(values, torch::kFloat64);
  };
  std::unique_ptr<Denoiser> out;
  if (arch == "gaussian") {
    auto mean = tensor("mean");
    mean = mean.numel() == 1 ? mean.reshape({}) : mean.reshape({channels, resolution, resolution});
    out = std::make_unique<GaussianDenoiser>(resolution, channels, mean, config.at("std").get<double>());
  } else if (arch == "gmm") {
    out = std::make_unique<GaussianMixtureDenoiser>(resolution, channels, tensor("means"), tensor("variances"),
                                                    tensor("weights"));
  } else {
    throw InputError("net.arch '" + arch + "' is not an analytic denoiser");
  }
  out->set_precond(precond);
  return out;
}

}  // namespace cmbench

#include "nets/analytic.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

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

// The mixture in `file`, checked against the network's shape and, when a checkpoint recorded one, its
// fingerprint.
std::shared_ptr<const GaussianMixture> load_mixture_file(int64_t resolution, int64_t channels, const std::string& file,
                                                         const std::string& expected_sha256) {
  auto mixture = std::make_shared<const GaussianMixture>(GaussianMixture::load(file));
  const std::vector<int64_t> want = {channels, resolution, resolution};
  if (mixture->shape() != want) {
    throw InputError(fmt::format("net.mixture '{}': a {}x{}x{} mixture, but the net has in_channels {} and "
                                 "img_resolution {}",
                                 file, mixture->shape()[0], mixture->shape()[1], mixture->shape()[2], channels,
                                 resolution));
  }
  if (!expected_sha256.empty() && expected_sha256 != mixture->fingerprint()) {
    throw InputError(fmt::format("net.mixture '{}': its parameters (sha256 {}) are not the ones recorded with the "
                                 "network (mixture_sha256 {})",
                                 file, mixture->fingerprint(), expected_sha256));
  }
  return mixture;
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
  const auto v = variances.to(torch::kFloat64).reshape({k});
  const auto w = weights.to(torch::kFloat64).reshape({k});
  if ((v < 0).any().item<bool>() || (w <= 0).any().item<bool>())
    throw InputError("gmm denoiser: variances must be >= 0 and weights > 0");
  GaussianMixtureParts parts;
  parts.shape = {img_channels, img_resolution, img_resolution};
  parts.weights = w;
  parts.means = m.contiguous();
  // Core's components need s^2 > 0: a point mass (variance 0) becomes the smallest normal double, whose
  // posterior at every sigma > 0 equals the point mass's to rounding (s^2 + sigma^2 == sigma^2).
  parts.noise_variances = v.clamp_min(std::numeric_limits<double>::min());
  mixture_ = std::make_shared<const GaussianMixture>(std::move(parts), "gmm denoiser");
}

GaussianMixtureDenoiser::GaussianMixtureDenoiser(int64_t img_resolution, int64_t img_channels,
                                                 const std::string& mixture_file, const std::string& expected_sha256)
    : GaussianMixtureDenoiser(load_mixture_file(img_resolution, img_channels, mixture_file, expected_sha256),
                              mixture_file) {}

GaussianMixtureDenoiser::GaussianMixtureDenoiser(std::shared_ptr<const GaussianMixture> mixture,
                                                 const std::string& mixture_file)
    : Denoiser({{"arch", "gmm"},
                {"img_resolution", mixture->shape()[1]},
                {"in_channels", mixture->shape()[0]},
                {"out_channels", mixture->shape()[0]},
                {"mixture", mixture_file},
                {"mixture_sha256", mixture->fingerprint()}},
               PrecondConfig{}),
      mixture_(std::move(mixture)) {}

torch::Tensor GaussianMixtureDenoiser::responsibilities(const torch::Tensor& x, const torch::Tensor& sigma) const {
  return mixture_->responsibilities(x, broadcast_sigma(sigma, x.size(0), torch::kFloat64)).to(x.device());
}

torch::Tensor GaussianMixtureDenoiser::denoise(const torch::Tensor& x, const torch::Tensor& sigma,
                                               const torch::Tensor&, const torch::Tensor&, const PrecondMode&) {
  const auto levels = broadcast_sigma(sigma, x.size(0), torch::kFloat64);
  return keep_clean_rows(x, levels.to(x.device()), mixture_->denoise(x, levels).to(x.device()));
}

std::unique_ptr<Denoiser> make_analytic_denoiser(const nlohmann::json& config, const PrecondConfig& precond) {
  const auto arch = config.at("arch").get<std::string>();
  const auto resolution = config.at("img_resolution").get<int64_t>();
  const auto channels = config.at("in_channels").get<int64_t>();
  // The images it denoises are held in float64 (the mean, the mixture's parameters): sizes are
  // bounded before anything is allocated. Counted in floating point so that nothing overflows.
  constexpr double kMaxElements = double(int64_t{1} << 26);
  if (resolution < 1 || channels < 1 || double(channels) * double(resolution) * double(resolution) > kMaxElements)
    throw InputError(fmt::format("net (arch {}): img_resolution {} and in_channels {} must be >= 1, with at most {} "
                                 "elements an image", arch, resolution, channels, int64_t(kMaxElements)));
  auto tensor = [&](const char* key) {
    if (!config.contains(key)) throw InputError("net." + std::string(key) + ": required for arch '" + arch + "'");
    const auto& v = config.at(key);
    std::vector<double> values = v.is_array() ? v.get<std::vector<double>>() : std::vector<double>{v.get<double>()};
    return torch::tensor(values, torch::kFloat64);
  };
  std::unique_ptr<Denoiser> out;
  if (arch == "gaussian") {
    auto mean = tensor("mean");
    if (mean.numel() != 1 && mean.numel() != channels * resolution * resolution)
      throw InputError(fmt::format("net.mean: {} values; expected 1 or in_channels x img_resolution^2 = {}",
                                   mean.numel(), channels * resolution * resolution));
    mean = mean.numel() == 1 ? mean.reshape({}) : mean.reshape({channels, resolution, resolution});
    out = std::make_unique<GaussianDenoiser>(resolution, channels, mean, config.at("std").get<double>());
  } else if (arch == "gmm" && !config.value("mixture", std::string()).empty()) {
    out = std::make_unique<GaussianMixtureDenoiser>(resolution, channels, config.at("mixture").get<std::string>(),
                                                    config.value("mixture_sha256", std::string()));
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

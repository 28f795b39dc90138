// The image metrics of the ground truth (issue 16): generated images against the exact mixture of
// a gmm: source, in pixel space, with no feature network.
//   gt_fd:     the Fréchet distance of the images' mean and covariance (ddof 1) to the mixture's
//              closed-form mean and covariance;
//   gt_loglik: the mean of log p(x) / D over the images, in nats per dimension, under the exact
//              mixture (sigma 0).
// Both read the images dequantized to the bin centres (u / 127.5 - 1), flattened to D = C*H*W.
#include <fmt/format.h>

#include "core/error.h"
#include "metrics/frechet.h"
#include "metrics/ground_truth_features.h"
#include "metrics/metric.h"
#include "metrics/statistics.h"

namespace cmbench {

namespace {

// The generated images as float64 rows (N, D), checked against the mixture's image shape.
torch::Tensor image_rows(const ImageSetFeatures& generated, const GaussianMixture& mixture, const std::string& reference) {
  const auto& pixels = generated.pixels;
  const auto& shape = mixture.shape();
  if (!pixels.defined() || pixels.dim() != 4 || pixels.size(0) < 1) {
    throw InputError(fmt::format("{}: holds no images", generated.name));
  }
  if (pixels.size(3) != shape[0] || pixels.size(1) != shape[1] || pixels.size(2) != shape[2]) {
    throw InputError(fmt::format("{}: images are {}x{}x{} (C x H x W), the mixture of {} is {}x{}x{}", generated.name,
                                 pixels.size(3), pixels.size(1), pixels.size(2), reference, shape[0], shape[1], shape[2]));
  }
  return dequantize_images(pixels).reshape({pixels.size(0), -1});
}

class GroundTruthFdMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override { return {{.name = "gt_fd"}}; }
  std::set<Feature> features() const override { return {Feature::pixels, Feature::ground_truth}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const auto& mixture = reference_mixture(reference);
    const auto rows = image_rows(generated, mixture, reference->name);
    if (rows.size(0) < 2) throw InputError(fmt::format("{}: gt_fd needs at least 2 images", generated.name));
    const auto stats = compute_statistics(rows, 1);
    const double fd = frechet_distance(stats.mu, stats.sigma, mixture.mean(), mixture.covariance());
    return {{{"gt_fd", fd}}, {{"reference_sha256", mixture.fingerprint()}, {"dims", rows.size(1)}}};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("ground-truth Fréchet distance {:.6g} (pixel space)", v.values.at("gt_fd"));
  }
};

class GroundTruthLoglikMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override { return {{.name = "gt_loglik", .higher_is_better = true}}; }
  std::set<Feature> features() const override { return {Feature::pixels, Feature::ground_truth}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const auto& mixture = reference_mixture(reference);
    const auto rows = image_rows(generated, mixture, reference->name);
    const auto images = rows.reshape({rows.size(0), mixture.shape()[0], mixture.shape()[1], mixture.shape()[2]});
    const auto log_p = mixture.log_prob(images, torch::zeros({}, torch::kFloat64));
    const double per_dimension = log_p.mean().item<double>() / static_cast<double>(rows.size(1));
    return {{{"gt_loglik", per_dimension}}, {{"reference_sha256", mixture.fingerprint()}, {"dims", rows.size(1)}}};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("ground-truth log-likelihood {:.6f} nats per dimension", v.values.at("gt_loglik"));
  }
};

}  // namespace

std::unique_ptr<Metric> make_gt_fd_metric() { return std::make_unique<GroundTruthFdMetric>(); }
std::unique_ptr<Metric> make_gt_loglik_metric() { return std::make_unique<GroundTruthLoglikMetric>(); }

}  // namespace cmbench

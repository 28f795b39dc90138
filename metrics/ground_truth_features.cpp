#include "metrics/ground_truth_features.h"

#include <limits>
#include <memory>

#include <fmt/format.h>

#include "core/error.h"
#include "data/gmm_source.h"

namespace cmbench {

ImageSetFeatures ground_truth_features(const std::string& spec, int64_t per_bucket) {
  auto mixture = ground_truth_of(spec);
  if (!mixture) {
    throw InputError(fmt::format("{}: the ground-truth metrics compare with a gmm:FILE.npz source (data/gmm_source.h)", spec));
  }
  ImageSetFeatures out;
  out.name = spec;
  out.mixture = mixture;
  if (per_bucket > 0) out.probes = std::make_shared<const TruthProbes>(make_truth_probes(*mixture, per_bucket, 0));
  out.count = out.probes ? out.probes->t.size(0) : 0;
  out.sources[Feature::ground_truth] = spec;
  return out;
}

namespace {

bool reads_ground_truth(const std::set<Feature>& features) { return features.count(Feature::ground_truth) != 0; }

}  // namespace

std::set<Feature> generated_features(const Metric& metric) {
  auto features = metric.features();
  features.erase(Feature::ground_truth);
  return features;
}

std::set<Feature> reference_features(const Metric& metric) {
  const auto features = metric.features();
  return reads_ground_truth(features) ? std::set<Feature>{Feature::ground_truth} : features;
}

bool is_network_metric(const Metric& metric) {
  const auto generated = generated_features(metric);
  if (generated.empty()) return false;
  for (const auto feature : generated) {
    if (feature != Feature::consistency_outputs && feature != Feature::target_estimates) return false;
  }
  return true;
}

const GaussianMixture& reference_mixture(const ImageSetFeatures* reference) {
  if (!reference || !reference->mixture) {
    throw InputError(fmt::format("{}: holds no ground truth; the ground-truth metrics compare with a gmm:FILE.npz source",
                                 reference ? reference->name : std::string("(no reference)")));
  }
  return *reference->mixture;
}

const TruthProbes& reference_probes(const ImageSetFeatures* reference) {
  reference_mixture(reference);
  if (!reference->probes) throw InputError(fmt::format("{}: the ground truth holds no probe set", reference->name));
  return *reference->probes;
}

std::vector<double> bucket_means(const torch::Tensor& per_probe, const torch::Tensor& bucket) {
  const auto values = per_probe.to(torch::kFloat64).reshape({-1});
  const auto buckets = bucket.to(torch::kInt64).reshape({-1});
  std::vector<double> out;
  for (int64_t b = 0; b < truth_bucket_count(); ++b) {
    const auto in_bucket = buckets == b;
    const int64_t count = in_bucket.sum().item<int64_t>();
    out.push_back(count == 0 ? std::numeric_limits<double>::quiet_NaN()
                             : values.masked_select(in_bucket).sum().item<double>() / static_cast<double>(count));
  }
  return out;
}

std::vector<std::string> bucket_output_names(const std::string& prefix) {
  std::vector<std::string> out;
  for (int64_t b = 0; b < truth_bucket_count(); ++b) out.push_back(fmt::format("{}_t{}", prefix, b));
  return out;
}

}  // namespace cmbench

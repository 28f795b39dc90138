#include "metrics/image_set_features.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/features.h"
#include "metrics/ground_truth_features.h"
#include "metrics/protocol.h"
#include "metrics/vgg16_detector.h"

namespace cmbench {

bool needs_detector(const std::set<Feature>& features) {
  return features.count(Feature::pool3_statistics) || features.count(Feature::inception_logits) ||
         features.count(Feature::pool3_features) || features.count(Feature::spatial_statistics);
}

bool needs_dinov2(const std::set<Feature>& features) { return features.count(Feature::dinov2_statistics) != 0; }

bool needs_vgg16(const std::set<Feature>& features) { return features.count(Feature::vgg16_features) != 0; }

std::optional<FeatureStatistics>& ImageSetFeatures::statistics(Feature feature) {
  switch (feature) {
    case Feature::pool3_statistics: return pool3_statistics;
    case Feature::spatial_statistics: return spatial_statistics;
    case Feature::dinov2_statistics: return dinov2_statistics;
    default: throw std::logic_error("ImageSetFeatures::statistics: not a statistics feature");
  }
}

const std::optional<FeatureStatistics>& ImageSetFeatures::statistics(Feature feature) const {
  return const_cast<ImageSetFeatures&>(*this).statistics(feature);
}

void ImageSetFeatures::merge(ImageSetFeatures other) {
  if (name.empty()) name = other.name;
  if (!has(Feature::pixels) && other.has(Feature::pixels)) pixels = std::move(other.pixels);
  for (const auto& k : statistics_keys()) {
    if (!has(k.feature) && other.has(k.feature)) statistics(k.feature) = std::move(other.statistics(k.feature));
  }
  if (!has(Feature::inception_logits) && other.has(Feature::inception_logits)) logits = std::move(other.logits);
  if (!has(Feature::pool3_features) && other.has(Feature::pool3_features)) pool3 = std::move(other.pool3);
  if (!has(Feature::vgg16_features) && other.has(Feature::vgg16_features)) vgg16 = std::move(other.vgg16);
  if (!has(Feature::ground_truth) && other.has(Feature::ground_truth)) {
    mixture = std::move(other.mixture);
    probes = std::move(other.probes);
  }
  if (!has(Feature::consistency_outputs) && other.has(Feature::consistency_outputs)) {
    truth.consistency_outputs = std::move(other.truth.consistency_outputs);
  }
  if (!has(Feature::target_estimates) && other.has(Feature::target_estimates)) {
    truth.target_r = std::move(other.truth.target_r);
    truth.target_x_r = std::move(other.truth.target_x_r);
  }
  sources.merge(other.sources);
  protocols.merge(other.protocols);
}

namespace {

void inception_features(ImageSetFeatures& out, const ImageSource& source, const std::vector<int64_t>& indices,
                        const std::set<Feature>& features, InceptionDetector& detector, int64_t batch,
                        ProcessGroup* group, int ddof) {
  const bool want_statistics = features.count(Feature::pool3_statistics) != 0;
  const bool want_logits = features.count(Feature::inception_logits) != 0;
  const bool want_pool3 = features.count(Feature::pool3_features) != 0;
  const bool want_spatial = features.count(Feature::spatial_statistics) != 0;
  StatisticsAccumulator pool3_accumulator, spatial_accumulator;
  std::vector<torch::Tensor> logits, pool3;
  extract_features(
      source, indices, detector,
      ExtractionOptions().batch(batch).label(source.name()).with_logits(want_logits).with_spatial(want_spatial),
      [&](const FidInceptionOutput& b) {
        if (want_statistics) pool3_accumulator.add(b.pool3);
        if (want_spatial) spatial_accumulator.add(b.spatial);
        if (want_logits) logits.push_back(b.logits_unbiased);
        if (want_pool3) pool3.push_back(b.pool3);
      },
      group);
  if (want_statistics) out.pool3_statistics = pool3_accumulator.finish(ddof);
  if (want_spatial) out.spatial_statistics = spatial_accumulator.finish(ddof);
  if (want_logits) out.logits = torch::cat(logits);
  if (want_pool3) out.pool3 = torch::cat(pool3);
  const auto detector_meta = detector.describe();
  for (const auto feature : features) {
    if (feature != Feature::pixels && needs_detector({feature})) out.protocols[feature] = feature_protocol(detector_meta, feature, ddof);
  }
}

// One network's single output over the set, streamed into `consume`.
void single_output_pass(const ImageSource& source, const std::vector<int64_t>& indices, int64_t width,
                        const std::function<torch::Tensor(const torch::Tensor&)>& run, int64_t batch,
                        const std::string& label, const std::function<void(const torch::Tensor&)>& consume,
                        ProcessGroup* group) {
  BatchFeatureRun network{{width}, [&](const torch::Tensor& images) { return std::vector<torch::Tensor>{run(images)}; }};
  extract_batches(source, indices, network, ExtractionOptions().batch(batch).label(label),
                  [&](const std::vector<torch::Tensor>& outputs) { consume(outputs[0]); }, group);
}

}  // namespace

ImageSetFeatures image_set_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                    const std::set<Feature>& features, const FeatureNetworks& networks, int64_t batch,
                                    ProcessGroup* group, int ddof) {
  if (features.count(Feature::consistency_outputs) || features.count(Feature::target_estimates)) {
    throw std::logic_error("image_set_features: network answers at the probes come from the network, not from images");
  }
  ImageSetFeatures out;
  out.name = source.name();
  out.count = static_cast<int64_t>(indices.size());
  for (const auto feature : features) out.sources[feature] = source.name();
  if (features.count(Feature::pixels)) {
    out.pixels = source.read_indices(indices);
    // Every network extraction below warns itself (extract_batches); a set read as pixels only is checked here.
    if (!needs_detector(features) && !needs_dinov2(features) && !needs_vgg16(features)) {
      ConstantImagesCheck constant;
      constant.add(out.pixels);
      constant.warn(source.name());
    }
  }
  // The ground truth is the source's distribution, not a feature of its images: the mixture and its
  // probe set at the default size (callers that set the size use ground_truth_features).
  if (features.count(Feature::ground_truth)) {
    auto truth = ground_truth_features(source.name(), MetricSettings{}.truth_probes);
    out.mixture = std::move(truth.mixture);
    out.probes = std::move(truth.probes);
  }
  if (needs_detector(features)) {
    if (!networks.inception) throw std::logic_error("image_set_features: Inception features without a detector");
    inception_features(out, source, indices, features, *networks.inception, batch, group, ddof);
  }
  if (needs_dinov2(features)) {
    if (!networks.dinov2) throw std::logic_error("image_set_features: DINOv2 features without a detector");
    StatisticsAccumulator accumulator;
    single_output_pass(source, indices, 1024, [&](const torch::Tensor& images) { return networks.dinov2->run(images); },
                       batch, source.name() + " (DINOv2)", [&](const torch::Tensor& rows) { accumulator.add(rows); },
                       group);
    out.dinov2_statistics = accumulator.finish(ddof);
    out.protocols[Feature::dinov2_statistics] =
        feature_protocol(networks.dinov2->describe(), Feature::dinov2_statistics, ddof);
  }
  if (needs_vgg16(features)) {
    if (!networks.vgg16) throw std::logic_error("image_set_features: VGG16 features without a detector");
    out.vgg16 = extract_vgg16_features(source, indices, *networks.vgg16, batch, group);
    out.protocols[Feature::vgg16_features] = feature_protocol(networks.vgg16->describe(), Feature::vgg16_features);
  }
  return out;
}

const std::vector<StatisticsKeys>& statistics_keys() {
  static const std::vector<StatisticsKeys> keys = {
      {Feature::pool3_statistics, "mu", "sigma", "Inception pool3 statistics"},
      {Feature::spatial_statistics, "mu_s", "sigma_s", "sFID spatial statistics"},
      {Feature::dinov2_statistics, "mu_dinov2", "sigma_dinov2", "DINOv2 statistics"},
  };
  return keys;
}

namespace {

const StatisticsKeys* keys_of(Feature feature) {
  for (const auto& k : statistics_keys())
    if (k.feature == feature) return &k;
  return nullptr;
}

}  // namespace

bool statistics_file_holds(const std::string& path, const std::set<Feature>& features) {
  if (!is_statistics_file(path)) return false;
  const auto keys = npz_keys(path);
  const auto has = [&](const char* k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  for (const auto feature : features) {
    const auto* k = keys_of(feature);
    if (!k || !has(k->mu) || !has(k->sigma)) return false;
  }
  return true;
}

ImageSetFeatures statistics_file_features(const std::string& path, const std::set<Feature>& features) {
  for (const auto feature : features) {
    if (!keys_of(feature)) {
      throw InputError(fmt::format("{}: a statistics file holds no images or logits; this metric needs images", path));
    }
  }
  ImageSetFeatures out;
  out.name = path;
  const auto file_keys = npz_keys(path);
  for (const auto feature : features) {
    const auto& k = *keys_of(feature);
    if (std::find(file_keys.begin(), file_keys.end(), k.mu) == file_keys.end()) {
      throw InputError(fmt::format("{}: holds no {} ('{}', '{}'); compute them from images (cmbench stats)", path,
                                   k.what, k.mu, k.sigma));
    }
    auto stats = read_statistics(path, k.mu, k.sigma);
    out.count = stats.n;
    out.protocols[feature] = protocol_from_meta(stats.meta, feature, k.mu);
    out.statistics(feature) = std::move(stats);
    out.sources[feature] = path;
  }
  if (out.count >= 0 && out.count < 2048) {
    spdlog::warn("{}: statistics of {} images (< 2048): the covariance is rank-deficient", path, out.count);
  }
  return out;
}

bool is_features_file(const std::string& path) {
  if (std::filesystem::path(path).extension() != ".npz" || !std::filesystem::is_regular_file(path)) return false;
  try {
    const auto keys = npz_keys(path);
    return std::find(keys.begin(), keys.end(), "features") != keys.end();
  } catch (const Error&) {
    return false;
  }
}

ImageSetFeatures features_file_features(const std::string& path, const std::set<Feature>& features) {
  for (const auto feature : features) {
    if (feature != Feature::pool3_features && feature != Feature::pool3_statistics) {
      throw InputError(fmt::format("{}: a features file holds no images or logits; this metric needs images", path));
    }
  }
  const auto arrays = read_npz(path);
  nlohmann::json info = nlohmann::json::object();
  if (const auto meta = arrays.find("meta"); meta != arrays.end()) {
    const auto& bytes = meta->second.bytes;
    info = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()), nullptr, /*allow_exceptions=*/false);
    if (info.is_object() && info.contains("layer") && info["layer"] != "pool3") {
      throw InputError(fmt::format("{}: holds {} features; this metric needs pool3 (cmbench features --layer pool3)",
                                   path, info["layer"].dump()));
    }
  }
  const auto pool3 = to_tensor(arrays.at("features"));
  if (pool3.dim() != 2 || !pool3.is_floating_point() || pool3.size(0) < 1) {
    throw InputError(fmt::format("{}: 'features' must be a non-empty (N, D) float array, found {} of [{}]", path,
                                 std::string(c10::toString(pool3.scalar_type())), fmt::join(pool3.sizes(), ", ")));
  }
  if (!torch::isfinite(pool3).all().item<bool>()) throw InputError(fmt::format("{}: 'features' holds NaN or Inf", path));
  ImageSetFeatures out;
  out.name = path;
  out.count = pool3.size(0);
  out.pool3 = pool3.to(torch::kFloat32);
  if (features.count(Feature::pool3_statistics)) {
    StatisticsAccumulator accumulator;
    accumulator.add(out.pool3);
    out.pool3_statistics = accumulator.finish(1);
  }
  for (const auto feature : features) {
    out.sources[feature] = path;
    out.protocols[feature] = protocol_from_meta(info, feature);
  }
  return out;
}

ImageSetFeatures file_features(const std::string& path, const std::set<Feature>& features) {
  return is_features_file(path) ? features_file_features(path, features) : statistics_file_features(path, features);
}

std::set<Feature> features_of(const std::vector<const Metric*>& metrics) {
  std::set<Feature> out;
  for (const auto* m : metrics) out.merge(m->features());
  return out;
}

}  // namespace cmbench

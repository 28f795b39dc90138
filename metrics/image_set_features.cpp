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

namespace cmbench {

bool needs_detector(const std::set<Feature>& features) {
  return features.count(Feature::pool3_statistics) || features.count(Feature::inception_logits) ||
         features.count(Feature::pool3_features);
}

void ImageSetFeatures::merge(ImageSetFeatures other) {
  if (!has(Feature::pixels) && other.has(Feature::pixels)) pixels = std::move(other.pixels);
  if (!has(Feature::pool3_statistics) && other.has(Feature::pool3_statistics)) {
    pool3_statistics = std::move(other.pool3_statistics);
  }
  if (!has(Feature::inception_logits) && other.has(Feature::inception_logits)) logits = std::move(other.logits);
  if (!has(Feature::pool3_features) && other.has(Feature::pool3_features)) pool3 = std::move(other.pool3);
  sources.merge(other.sources);
}

ImageSetFeatures image_set_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                    const std::set<Feature>& features, InceptionDetector* detector, int64_t batch,
                                    ProcessGroup* group) {
  ImageSetFeatures out;
  out.name = source.name();
  out.count = static_cast<int64_t>(indices.size());
  for (const auto feature : features) out.sources[feature] = source.name();
  if (features.count(Feature::pixels)) out.pixels = source.read_indices(indices);
  if (!needs_detector(features)) return out;
  if (!detector) throw std::logic_error("image_set_features: Inception features without a detector");
  const bool want_statistics = features.count(Feature::pool3_statistics) != 0;
  const bool want_logits = features.count(Feature::inception_logits) != 0;
  const bool want_pool3 = features.count(Feature::pool3_features) != 0;
  StatisticsAccumulator accumulator;
  std::vector<torch::Tensor> logits, pool3;
  extract_features(source, indices, *detector,
                   ExtractionOptions().batch(batch).label(source.name()).with_logits(want_logits),
                   [&](const FidInceptionOutput& b) {
                     if (want_statistics) accumulator.add(b.pool3);
                     if (want_logits) logits.push_back(b.logits_unbiased);
                     if (want_pool3) pool3.push_back(b.pool3);
                   },
                   group);
  if (want_statistics) out.pool3_statistics = accumulator.finish(1);
  if (want_logits) out.logits = torch::cat(logits);
  if (want_pool3) out.pool3 = torch::cat(pool3);
  return out;
}

ImageSetFeatures statistics_file_features(const std::string& path, const std::set<Feature>& features) {
  for (const auto feature : features) {
    if (feature != Feature::pool3_statistics) {
      throw InputError(fmt::format("{}: a statistics file holds no images or logits; this metric needs images", path));
    }
  }
  ImageSetFeatures out;
  out.name = path;
  out.pool3_statistics = read_statistics(path);
  out.count = out.pool3_statistics->n;
  if (out.count >= 0 && out.count < 2048) {
    spdlog::warn("{}: statistics of {} images (< 2048): the covariance is rank-deficient", path, out.count);
  }
  out.sources[Feature::pool3_statistics] = path;
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
  if (const auto meta = arrays.find("meta"); meta != arrays.end()) {
    const auto& bytes = meta->second.bytes;
    const auto info = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()), nullptr, /*allow_exceptions=*/false);
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
  for (const auto feature : features) out.sources[feature] = path;
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

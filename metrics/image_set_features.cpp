#include "metrics/image_set_features.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "metrics/features.h"

namespace cmbench {

bool needs_detector(const std::set<Feature>& features) {
  return features.count(Feature::pool3_statistics) || features.count(Feature::inception_logits);
}

void ImageSetFeatures::merge(ImageSetFeatures other) {
  if (!has(Feature::pixels) && other.has(Feature::pixels)) pixels = std::move(other.pixels);
  if (!has(Feature::pool3_statistics) && other.has(Feature::pool3_statistics)) {
    pool3_statistics = std::move(other.pool3_statistics);
  }
  if (!has(Feature::inception_logits) && other.has(Feature::inception_logits)) logits = std::move(other.logits);
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
  StatisticsAccumulator accumulator;
  std::vector<torch::Tensor> logits;
  extract_features(source, indices, *detector,
                   ExtractionOptions().batch(batch).label(source.name()).with_logits(want_logits),
                   [&](const FidInceptionOutput& b) {
                     if (want_statistics) accumulator.add(b.pool3);
                     if (want_logits) logits.push_back(b.logits_unbiased);
                   },
                   group);
  if (want_statistics) out.pool3_statistics = accumulator.finish(1);
  if (want_logits) out.logits = torch::cat(logits);
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

std::set<Feature> features_of(const std::vector<const Metric*>& metrics) {
  std::set<Feature> out;
  for (const auto* m : metrics) out.merge(m->features());
  return out;
}

}  // namespace cmbench

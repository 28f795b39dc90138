#include "metrics/features.h"

#include <future>

#include <fmt/format.h>

#include "core/error.h"
#include "core/numpy_random.h"
#include "core/progress.h"

namespace cmbench {

std::vector<int64_t> select_indices(const ImageSource& source, int64_t num, int64_t seed) {
  const int64_t count = source.size();
  if (count <= 0) throw InputError(fmt::format("{}: no images", source.name()));
  if (num > count) {
    throw InputError(fmt::format("{}: --num {} exceeds the {} images available", source.name(), num, count));
  }
  return edm_subset_indices(count, num <= 0 ? count : num, seed);
}

namespace {

torch::Tensor read_batch(const ImageSource& source, const std::vector<int64_t>& indices, size_t begin, size_t end) {
  const bool contiguous = indices[end - 1] - indices[begin] == static_cast<int64_t>(end - begin - 1);
  if (contiguous) return source.read(indices[begin], indices[end - 1] + 1);
  return source.read_indices(std::vector<int64_t>(indices.begin() + static_cast<std::ptrdiff_t>(begin),
                                                  indices.begin() + static_cast<std::ptrdiff_t>(end)));
}

}  // namespace

void extract_features(const ImageSource& source, const std::vector<int64_t>& indices, InceptionDetector& detector,
                      const ExtractionOptions& options,
                      const std::function<void(const FidInceptionOutput& batch)>& consume) {
  if (indices.empty()) throw InputError(fmt::format("{}: no images selected", source.name()));
  if (options.batch() <= 0) throw InputError("--batch must be positive");
  const size_t batch = static_cast<size_t>(options.batch());
  const size_t total = indices.size();
  std::unique_ptr<ProgressBar> bar;
  if (options.progress()) bar = std::make_unique<ProgressBar>(options.label(), static_cast<int64_t>(total), "img");
  auto next = std::async(std::launch::async, read_batch, std::cref(source), std::cref(indices), size_t{0},
                         std::min(batch, total));
  for (size_t begin = 0; begin < total; begin += batch) {
    const size_t end = std::min(begin + batch, total);
    torch::Tensor images = next.get();
    if (end < total) {
      next = std::async(std::launch::async, read_batch, std::cref(source), std::cref(indices), end,
                        std::min(end + batch, total));
    }
    consume(detector.run(images, options.with_logits()));
    if (bar) bar->advance(static_cast<int64_t>(end - begin));
  }
  if (bar) bar->finish();
}

FidInceptionOutput extract_all_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                        InceptionDetector& detector, const ExtractionOptions& options) {
  std::vector<torch::Tensor> pools, logits;
  extract_features(source, indices, detector, options, [&](const FidInceptionOutput& out) {
    pools.push_back(out.pool3);
    if (out.logits_unbiased.defined()) logits.push_back(out.logits_unbiased);
  });
  FidInceptionOutput all;
  all.pool3 = torch::cat(pools, 0);
  if (!logits.empty()) all.logits_unbiased = torch::cat(logits, 0);
  return all;
}

FeatureStatistics image_statistics(const ImageSource& source, const std::vector<int64_t>& indices,
                                   InceptionDetector& detector, const ExtractionOptions& options, int ddof) {
  StatisticsAccumulator acc;
  extract_features(source, indices, detector, options, [&](const FidInceptionOutput& out) { acc.add(out.pool3); });
  auto stats = acc.finish(ddof);
  stats.meta = detector.describe();
  stats.meta["ddof"] = ddof;
  stats.meta["source"] = source.name();
  stats.meta["num"] = static_cast<int64_t>(indices.size());
  return stats;
}

}  // namespace cmbench

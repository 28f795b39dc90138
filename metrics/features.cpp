#include "metrics/features.h"

#include <future>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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

void ConstantImagesCheck::add(const torch::Tensor& images) {
  if (images.size(0) == 0) return;
  if (!first_.defined()) first_ = images[0].clone();
  if (identical_) identical_ = torch::equal(images, first_.unsqueeze(0).expand_as(images));
  count_ += images.size(0);
}

void ConstantImagesCheck::warn(const std::string& set_name) const {
  if (!all_identical()) return;
  spdlog::warn("{}: all {} images are identical (a collapsed or constant generator?); a distance or score of them "
               "measures nothing", set_name, count_);
}

void extract_batches(const ImageSource& source, const std::vector<int64_t>& indices, const BatchFeatureRun& network,
                     const ExtractionOptions& options,
                     const std::function<void(const std::vector<torch::Tensor>& outputs)>& consume, ProcessGroup* group) {
  if (indices.empty()) throw InputError(fmt::format("{}: no images selected", source.name()));
  if (options.batch() <= 0) throw InputError("--batch must be positive");
  if (group && group->size() > 1) {
    // This rank's batches, back to back: split by the batch size they are the same batches again
    // (only the last batch of all can be short, and it is the last of its rank's).
    const int64_t b = options.batch(), n = static_cast<int64_t>(indices.size());
    std::vector<int64_t> own;
    for (int64_t k = 0; k * b < n; ++k)
      if (owns_batch(*group, k)) own.insert(own.end(), indices.begin() + k * b, indices.begin() + std::min(n, (k + 1) * b));
    std::vector<std::vector<torch::Tensor>> parts(network.widths.size());
    if (!own.empty()) {
      auto local = options;
      local.progress(options.progress() && group->is_root());
      extract_batches(source, own, network, local, [&](const std::vector<torch::Tensor>& outputs) {
        for (size_t i = 0; i < outputs.size(); ++i) parts[i].push_back(outputs[i].to(torch::kCPU));
      });
    }
    std::vector<torch::Tensor> all;
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto local_rows = parts[i].empty() ? torch::empty({0, network.widths[i]}, torch::kFloat32) : torch::cat(parts[i]);
      all.push_back(gather_batches(*group, local_rows, n, b));
    }
    for (int64_t begin = 0; begin < n; begin += b) {
      const int64_t count = std::min(b, n - begin);
      std::vector<torch::Tensor> batch;
      for (const auto& rows : all) batch.push_back(rows.narrow(0, begin, count));
      consume(batch);
    }
    return;
  }
  const size_t batch = static_cast<size_t>(options.batch());
  const size_t total = indices.size();
  std::unique_ptr<ProgressBar> bar;
  if (options.progress()) bar = std::make_unique<ProgressBar>(options.label(), static_cast<int64_t>(total), "img");
  ConstantImagesCheck constant;
  auto next = std::async(std::launch::async, read_batch, std::cref(source), std::cref(indices), size_t{0},
                         std::min(batch, total));
  for (size_t begin = 0; begin < total; begin += batch) {
    const size_t end = std::min(begin + batch, total);
    torch::Tensor images = next.get();
    if (end < total) {
      next = std::async(std::launch::async, read_batch, std::cref(source), std::cref(indices), end,
                        std::min(end + batch, total));
    }
    constant.add(images);
    consume(network.run(images));
    if (bar) bar->advance(static_cast<int64_t>(end - begin));
  }
  if (bar) bar->finish();
  constant.warn(source.name());
}

void extract_features(const ImageSource& source, const std::vector<int64_t>& indices, InceptionDetector& detector,
                      const ExtractionOptions& options,
                      const std::function<void(const FidInceptionOutput& batch)>& consume, ProcessGroup* group) {
  const InceptionLayers layers{options.with_logits(), options.with_spatial()};
  BatchFeatureRun network;
  network.widths = {2048};
  if (layers.logits) network.widths.push_back(1008);
  if (layers.spatial) network.widths.push_back(kSpatialFeatureWidth);
  network.run = [&](const torch::Tensor& images) {
    auto out = detector.run(images, layers);
    std::vector<torch::Tensor> outputs{out.pool3};
    if (layers.logits) outputs.push_back(out.logits_unbiased);
    if (layers.spatial) outputs.push_back(out.spatial);
    return outputs;
  };
  extract_batches(source, indices, network, options, [&](const std::vector<torch::Tensor>& outputs) {
    FidInceptionOutput out;
    size_t next = 0;
    out.pool3 = outputs[next++];
    if (layers.logits) out.logits_unbiased = outputs[next++];
    if (layers.spatial) out.spatial = outputs[next++];
    consume(out);
  }, group);
}

FidInceptionOutput extract_all_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                        InceptionDetector& detector, const ExtractionOptions& options,
                                        ProcessGroup* group) {
  std::vector<torch::Tensor> pools, logits, spatial;
  extract_features(source, indices, detector, options, [&](const FidInceptionOutput& out) {
    pools.push_back(out.pool3);
    if (out.logits_unbiased.defined()) logits.push_back(out.logits_unbiased);
    if (out.spatial.defined()) spatial.push_back(out.spatial);
  }, group);
  FidInceptionOutput all;
  all.pool3 = torch::cat(pools, 0);
  if (!logits.empty()) all.logits_unbiased = torch::cat(logits, 0);
  if (!spatial.empty()) all.spatial = torch::cat(spatial, 0);
  return all;
}

FeatureStatistics image_statistics(const ImageSource& source, const std::vector<int64_t>& indices,
                                   InceptionDetector& detector, const ExtractionOptions& options, int ddof,
                                   ProcessGroup* group) {
  StatisticsAccumulator acc;
  extract_features(source, indices, detector, options, [&](const FidInceptionOutput& out) { acc.add(out.pool3); }, group);
  auto stats = acc.finish(ddof);
  stats.meta = detector.describe();
  stats.meta["ddof"] = ddof;
  stats.meta["layer"] = "pool3";
  stats.meta["source"] = source.name();
  stats.meta["num"] = static_cast<int64_t>(indices.size());
  return stats;
}

}  // namespace cmbench

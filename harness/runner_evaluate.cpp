#include "harness/runner_evaluate.h"

#include <filesystem>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "data/image_source.h"
#include "harness/sample.h"
#include "methods/sampler.h"
#include "metrics/detector.h"
#include "metrics/features.h"
#include "metrics/frechet.h"
#include "metrics/inception_score.h"
#include "metrics/statistics.h"
#include "metrics/swd.h"
#include "results/grid.h"

namespace cmbench {

namespace fs = std::filesystem;

namespace {

bool wants(const Suite& suite, const std::string& metric) {
  for (const auto& m : suite.record.metrics) {
    if (m.metric == metric) return true;
  }
  return false;
}

// Reference data shared by every NFE and seed set of a stage.
struct References {
  std::unique_ptr<ImageSource> images;  // SWD
  torch::Tensor swd_images;
  FeatureStatistics fid_stats;          // FID
  std::unique_ptr<InceptionDetector> detector;
};

References load_references(const Suite& suite) {
  const auto& e = suite.evaluation;
  References r;
  if (wants(suite, "swd")) {
    r.images = open_image_source(e.reference_images);
    const auto indices = select_indices(*r.images, e.num_samples, 0);
    r.swd_images = r.images->read_indices(indices);
  }
  if (wants(suite, "fid") || wants(suite, "is_mean")) {
    r.detector = make_detector(DetectorOptions().weights(e.weights).device("auto"));
  }
  if (wants(suite, "fid")) {
    if (!e.reference_statistics.empty()) {
      r.fid_stats = read_statistics(e.reference_statistics);
    } else {
      const auto source = open_image_source(e.reference_images);
      const auto indices = select_indices(*source, 0, 0);
      r.fid_stats = image_statistics(*source, indices, *r.detector,
                                     ExtractionOptions().batch(e.batch).label(e.reference_images), 1);
    }
  }
  return r;
}

}  // namespace

StageEvaluation evaluate_stage(const Suite& suite, const SuiteStage& stage, const std::string& ckpt, int64_t step,
                               const std::string& folder, const std::string& device) {
  const auto& e = suite.evaluation;
  auto refs = load_references(suite);
  const std::string fid_reference = e.reference_statistics.empty() ? e.reference_images : e.reference_statistics;
  const std::string detector = refs.detector ? refs.detector->describe().dump() : "";
  StageEvaluation out;
  const auto sampler = make_sampler(stage.sampler);
  for (const int64_t nfe : stage.nfe) {
    for (size_t set = 0; set < e.seed_sets.size(); ++set) {
      const auto [first, last] = e.seed_sets[set];
      const std::string seeds = fmt::format("{}-{}", first, last);
      SampleRequest request;
      request.ckpt = ckpt;
      request.out = (fs::path(folder) / fmt::format("samples-nfe{}-seeds{}.npz", nfe, seeds)).string();
      request.num = last - first + 1;
      request.seeds = seeds;
      request.batch = e.batch;
      request.device = device;
      const auto settings = sampler->settings_for_nfe(nfe, e.sigmas);
      request.sampler = sampler->name();
      request.steps = settings.steps;
      request.sigmas = settings.sigmas;
      spdlog::info("{}: sampling {} images at NFE {} (seeds {})", stage.name, request.num, nfe, seeds);
      sample(request);
      const auto generated = open_image_source(request.out);
      const auto all = select_indices(*generated, 0, 0);
      const auto images = generated->read_indices(all);
      const auto row = [&](const std::string& metric, double value, const std::string& reference,
                           const std::string& used_detector) {
        out.rows.push_back({step, nfe, metric, value, request.num, seeds, reference, used_detector});
      };
      if (wants(suite, "swd")) {
        row("swd", sliced_wasserstein(images, refs.swd_images, SwdOptions().seed(0)).average, e.reference_images, "");
      }
      const bool want_fid = wants(suite, "fid"), want_is = wants(suite, "is_mean");
      if (want_fid || want_is) {
        // One Inception pass serves both metrics: pool3 streams into the FID statistics (50k features
        // never sit in memory), the unbiased logits are kept for IS.
        StatisticsAccumulator accumulator;
        std::vector<torch::Tensor> logits;
        extract_features(*generated, all, *refs.detector,
                         ExtractionOptions().batch(e.batch).label(request.out).with_logits(want_is),
                         [&](const FidInceptionOutput& batch) {
                           if (want_fid) accumulator.add(batch.pool3);
                           if (want_is) logits.push_back(batch.logits_unbiased);
                         });
        if (want_fid) {
          const auto stats = accumulator.finish(1);
          row("fid", frechet_distance(stats.mu, stats.sigma, refs.fid_stats.mu, refs.fid_stats.sigma), fid_reference,
              detector);
        }
        if (want_is) {
          const auto score = inception_score_from_logits(torch::cat(logits), 10, std::nullopt);
          row("is_mean", score.mean, "", detector);
          row("is_std", score.std, "", detector);
        }
      }
      if (set == 0 && e.grid) {
        const auto grid_images = images.slice(0, 0, std::min<int64_t>(64, images.size(0))).contiguous();
        auto png = results::encode_grid_png(grid_images.data_ptr<uint8_t>(), grid_images.size(0), grid_images.size(1),
                                            grid_images.size(2), grid_images.size(3));
        results::write_png_file((fs::path(folder) / fmt::format("grid-nfe{}.png", nfe)).string(), png);
        out.grids.push_back({nfe, std::move(png)});
      }
    }
  }
  return out;
}

}  // namespace cmbench

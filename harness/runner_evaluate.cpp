#include "harness/runner_evaluate.h"

#include <memory>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "data/image_source.h"
#include "harness/sample.h"
#include "methods/sampler.h"
#include "metrics/features.h"
#include "metrics/image_set_features.h"
#include "metrics/registry.h"
#include "results/grid.h"

namespace cmbench {


namespace {

// The registry's metrics with a value the suite evaluates (its [metrics.NAME] policies).
std::vector<std::unique_ptr<Metric>> suite_metrics(const Suite& suite) {
  std::vector<std::unique_ptr<Metric>> out;
  for (const auto& name : metric_registry().names()) {
    auto metric = metric_registry().create(name);
    bool wanted = false;
    for (const auto& output : metric->outputs()) {
      for (const auto& policy : suite.record.metrics) wanted = wanted || policy.metric == output.name;
    }
    if (wanted) out.push_back(std::move(metric));
  }
  return out;
}

// Where a metric's reference features came from, as the store's `reference` column.
std::string reference_label(const Metric& metric, const ImageSetFeatures& reference) {
  std::set<std::string> sources;
  for (const auto feature : metric.features()) sources.insert(reference.sources.at(feature));
  std::string out;
  for (const auto& s : sources) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

SuiteReferences::SuiteReferences(const Suite& suite, std::string detector_device)
    : suite_(suite), detector_device_(std::move(detector_device)), metrics_(suite_metrics(suite)) {}

void SuiteReferences::load_detector() {
  if (detector_loaded_) return;
  detector_loaded_ = true;
  std::set<Feature> all;
  for (const auto& m : metrics_) all.merge(m->features());
  if (needs_detector(all))
    detector_ = make_detector(DetectorOptions().weights(suite_.evaluation.weights).device(detector_device_));
}

void SuiteReferences::prepare(ProcessGroup* group) { load(group); }

void SuiteReferences::load(ProcessGroup* group) {
  if (loaded_) return;
  loaded_ = true;
  load_detector();
  const auto& e = suite_.evaluation;
  std::set<Feature> full, subset;
  for (const auto& m : metrics_) {
    if (m->image_sets() == 2) (m->equal_set_sizes() ? subset : full).merge(m->features());
  }
  if (full.count(Feature::pool3_statistics) && !e.reference_statistics.empty()) {
    full_ = statistics_file_features(e.reference_statistics, {Feature::pool3_statistics});
    full.erase(Feature::pool3_statistics);
  }
  const auto from_images = [&](const std::set<Feature>& features, int64_t num) {
    const auto source = open_image_source(e.reference_images);
    return image_set_features(*source, select_indices(*source, num, 0), features, detector_.get(), e.batch, group);
  };
  if (!full.empty()) full_.merge(from_images(full, 0));
  if (!subset.empty()) subset_ = from_images(subset, e.num_samples);
}

InceptionDetector* SuiteReferences::detector() {
  load_detector();
  return detector_.get();
}

const ImageSetFeatures& SuiteReferences::reference_for(const Metric& metric) {
  load();
  return metric.equal_set_sizes() ? subset_ : full_;
}

std::string SuiteReferences::detector_description() {
  load();
  return detector_ ? detector_->describe().dump() : "";
}

StageEvaluation evaluate_stage(const Suite& suite, const SuiteStage& stage, SuiteReferences& references,
                               const std::string& ckpt, int64_t step, const RunFolder& folder,
                               const std::string& device, const std::shared_ptr<ProcessGroup>& group) {
  const auto& e = suite.evaluation;
  std::vector<const Metric*> metrics;
  for (const auto& m : references.metrics()) metrics.push_back(m.get());
  const auto generated_features = features_of(metrics);
  StageEvaluation out;
  const auto sampler = make_sampler(stage.sampler);
  for (const int64_t nfe : stage.nfe) {
    for (size_t set = 0; set < e.seed_sets.size(); ++set) {
      const auto& seed_set = e.seed_sets[set];
      const auto seeds = seed_set.label();
      SampleRequest request;
      request.ckpt = ckpt;
      request.out = folder.samples(nfe, seeds);
      request.num = seed_set.count();
      request.seeds = seed_set;
      request.batch = e.batch;
      request.device = device;
      request.group = group;
      const auto settings = sampler->settings_for_nfe(nfe, e.sigmas);
      request.sampler = sampler->name();
      request.steps = settings.steps;
      request.sigmas = settings.sigmas;
      spdlog::info("{}: sampling {} images at NFE {} (seeds {})", stage.name, request.num, nfe, seeds);
      sample(request);
      const auto generated = open_image_source(request.out);
      const auto features = image_set_features(*generated, select_indices(*generated, 0, 0), generated_features,
                                               references.detector(), e.batch, group.get());
      references.prepare(group.get());
      if (group && !group->is_root()) continue;  // rank 0 computes the values and grids
      for (const auto* metric : metrics) {
        const bool paired = metric->image_sets() == 2;
        const auto* reference = paired ? &references.reference_for(*metric) : nullptr;
        const auto values = metric->compute(features, reference, MetricSettings());
        const auto reference_used = paired ? reference_label(*metric, *reference) : "";
        const auto detector_used = needs_detector(metric->features()) ? references.detector_description() : "";
        for (const auto& output : metric->outputs()) {
          out.rows.push_back({step, nfe, output.name, values.values.at(output.name), request.num, seeds, reference_used,
                              detector_used});
        }
      }
      if (set == 0 && e.grid) {
        const auto grid_images = generated->read(0, std::min<int64_t>(64, generated->size()));
        auto png = results::encode_grid_png(grid_images.data_ptr<uint8_t>(), grid_images.size(0), grid_images.size(1),
                                            grid_images.size(2), grid_images.size(3));
        results::write_png_file(folder.grid(nfe), png);
        out.grids.push_back({nfe, std::move(png)});
      }
    }
  }
  return out;
}

}  // namespace cmbench

#include "harness/runner_evaluate.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "data/image_source.h"
#include "harness/posthoc_ema.h"
#include "harness/sample.h"
#include "methods/sampler.h"
#include "metrics/features.h"
#include "metrics/image_set_features.h"
#include "metrics/protocol.h"
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

SuiteReferences::SuiteReferences(const Suite& suite, const SuiteEvaluation& evaluation, std::string detector_device)
    : evaluation_(evaluation), detector_device_(std::move(detector_device)), metrics_(suite_metrics(suite)) {}

void SuiteReferences::load_detector() {
  if (detector_loaded_) return;
  detector_loaded_ = true;
  std::set<Feature> all;
  for (const auto& m : metrics_) all.merge(m->features());
  const auto& e = evaluation_;
  if (needs_detector(all)) detector_ = make_detector(DetectorOptions().weights(e.weights).device(detector_device_));
  if (needs_dinov2(all)) {
    dinov2_ = make_dinov2_detector(Dinov2DetectorOptions().weights(e.dinov2_weights).device(detector_device_));
  }
  if (needs_vgg16(all)) vgg16_ = make_vgg16_detector(Vgg16DetectorOptions().weights(e.vgg16).device(detector_device_));
  networks_ = {detector_.get(), dinov2_.get(), vgg16_.get()};
}

MetricSettings SuiteReferences::settings() const {
  MetricSettings settings;
  settings.allow_protocol_mismatch = evaluation_.allow_protocol_mismatch;
  settings.is_shuffle_seed = evaluation_.is_shuffle_seed;
  return settings;
}

void SuiteReferences::prepare(ProcessGroup* group) { load(group); }

void SuiteReferences::load(ProcessGroup* group) {
  if (loaded_) return;
  loaded_ = true;
  load_detector();
  const auto& e = evaluation_;
  std::set<Feature> full, subset;
  for (const auto& m : metrics_) {
    if (m->image_sets() == 2) (m->equal_set_sizes() ? subset : full).merge(m->features());
  }
  if (!e.reference_statistics.empty()) {
    // The statistics the file holds come from it (FID's always; sFID's and FD_DINOv2's when present).
    std::set<Feature> from_file;
    for (const auto& k : statistics_keys()) {
      if (full.count(k.feature) && (k.feature == Feature::pool3_statistics ||
                                    statistics_file_holds(e.reference_statistics, {k.feature}))) {
        from_file.insert(k.feature);
      }
    }
    if (!from_file.empty()) full_ = statistics_file_features(e.reference_statistics, from_file);
    for (const auto feature : from_file) full.erase(feature);
    if (!full.empty() && e.reference_images.empty()) {
      statistics_file_features(e.reference_statistics, full);  // says which statistics the file lacks
    }
  }
  const auto from_images = [&](const std::set<Feature>& features, int64_t num) {
    const auto source = open_image_source(e.reference_images);
    return image_set_features(*source, select_indices(*source, num, 0), features, networks_, e.batch, group);
  };
  if (!full.empty()) full_.merge(from_images(full, 0));
  if (!subset.empty()) subset_ = from_images(subset, e.num_samples);
}

const FeatureNetworks& SuiteReferences::networks() {
  load_detector();
  return networks_;
}

const ImageSetFeatures& SuiteReferences::reference_for(const Metric& metric) {
  load();
  return metric.equal_set_sizes() ? subset_ : full_;
}

std::string SuiteReferences::detector_description(const Metric& metric) {
  load();
  const auto features = metric.features();
  nlohmann::json described = nlohmann::json::array();
  if (needs_detector(features) && detector_) described.push_back(detector_->describe());
  if (needs_dinov2(features) && dinov2_) described.push_back(dinov2_->describe());
  if (needs_vgg16(features) && vgg16_) described.push_back(vgg16_->describe());
  if (described.empty()) return "";
  return described.size() == 1 ? described[0].dump() : described.dump();
}

namespace {

// The weights `cmbench sample` takes without --ema (core/checkpoint.h default_weights_group).
std::string default_group(const std::vector<EmaPlan>& emas) {
  return std::any_of(emas.begin(), emas.end(), [](const EmaPlan& e) { return e.name == "ema"; }) ? "ema" : "model";
}

}  // namespace

std::vector<std::string> evaluated_profiles(const SuiteStage& stage, const std::vector<EmaPlan>& emas) {
  if (!stage.evaluation.ema.empty()) return stage.evaluation.ema;
  std::vector<std::string> out;
  for (const auto& e : emas) out.push_back(e.name);
  if (out.empty()) out.push_back("model");
  return out;
}

void check_evaluated_profiles(const SuiteStage& stage, const std::vector<EmaPlan>& emas) {
  std::string known = "model";
  for (const auto& e : emas) known += ", " + e.name;
  for (const auto& name : stage.evaluation.ema) {
    if (name != "model" && std::none_of(emas.begin(), emas.end(), [&](const EmaPlan& e) { return e.name == name; })) {
      throw InputError(fmt::format("{}: stage '{}' evaluates EMA profile '{}', which it does not train (known: {})",
                                   stage.where, stage.name, name, known));
    }
  }
  if (!stage.evaluation.posthoc_sigma_rel.empty() &&
      std::none_of(emas.begin(), emas.end(), [](const EmaPlan& e) { return e.options.kind() == EmaKind::power; })) {
    throw InputError(fmt::format("{}: stage '{}' asks for post-hoc EMA (posthoc_sigma_rel) but trains no power-function "
                                 "EMA profile (kind = \"power\")", stage.where, stage.name));
  }
}

std::vector<EvaluatedWeights> stage_weights(const SuiteStage& stage, const std::vector<EmaPlan>& emas,
                                            const std::string& ckpt, const RunFolder& folder, ProcessGroup* group) {
  check_evaluated_profiles(stage, emas);
  const auto fallback = default_group(emas);
  std::vector<EvaluatedWeights> out;
  for (const auto& name : evaluated_profiles(stage, emas)) out.push_back({ckpt, name, name == fallback ? "" : name});
  if (stage.evaluation.posthoc_sigma_rel.empty()) return out;
  // One file holds every reconstruction of the stage (harness/posthoc_ema.h names the groups).
  const auto file = folder.posthoc_ema();
  if (!group || group->is_root()) {
    reconstruct_posthoc_emas(posthoc_snapshot_checkpoints(folder), stage.evaluation.posthoc_sigma_rel, file, false);
  }
  if (group) group->barrier();
  for (const double sigma_rel : stage.evaluation.posthoc_sigma_rel) {
    const auto made = posthoc_ema_group(sigma_rel);
    const auto name = made.rfind("ema.", 0) == 0 ? made.substr(4) : made;
    out.push_back({file, name, name});
  }
  return out;
}

StageEvaluation evaluate_stage(const SuiteStage& stage, SuiteReferences& references,
                               const std::vector<EvaluatedWeights>& weights, int64_t step, const RunFolder& folder,
                               const std::string& device, const std::shared_ptr<ProcessGroup>& group) {
  const auto& e = stage.evaluation;
  std::vector<const Metric*> metrics;
  for (const auto& m : references.metrics()) metrics.push_back(m.get());
  const auto generated_features = features_of(metrics);
  StageEvaluation out;
  const auto sampler = make_sampler(stage.sampler);
  for (size_t profile = 0; profile < weights.size(); ++profile) {
    const auto& w = weights[profile];
    const std::string described = w.label.empty() ? "" : fmt::format(" (EMA {})", w.label);
    for (const int64_t nfe : e.nfe) {
      for (size_t set = 0; set < e.seed_sets.size(); ++set) {
        const auto& seed_set = e.seed_sets[set];
        const auto seeds = seed_set.label();
        SampleRequest request;
        request.ckpt = w.ckpt;
        request.ema = w.ema;
        request.knobs = e.knobs_at(nfe);
        request.out = folder.samples(nfe, seeds, w.label);
        request.num = seed_set.count();
        request.seeds = seed_set;
        request.batch = e.batch;
        request.device = device;
        request.group = group;
        const auto settings = sampler->settings_for_nfe(nfe, e.sigmas);
        request.sampler = sampler->name();
        request.steps = settings.steps;
        request.sigmas = settings.sigmas;
        spdlog::info("{}{}: sampling {} images at NFE {} (seeds {})", stage.name, described, request.num, nfe, seeds);
        sample(request);
        const auto generated = open_image_source(request.out);
        const auto features = image_set_features(*generated, select_indices(*generated, 0, 0), generated_features,
                                                 references.networks(), e.batch, group.get());
        references.prepare(group.get());
        if (group && !group->is_root()) continue;  // rank 0 computes the values and grids
        for (const auto* metric : metrics) {
          const bool paired = metric->image_sets() == 2;
          const auto* reference = paired ? &references.reference_for(*metric) : nullptr;
          const auto values = evaluate_metric(*metric, features, reference, references.settings());
          const auto reference_used = paired ? reference_label(*metric, *reference) : "";
          const auto detector_used = references.detector_description(*metric);
          const auto text = [&](const char* key) {
            return values.details.contains(key) ? values.details[key].get<std::string>() : std::string();
          };
          std::string mismatch;
          if (values.details.contains("protocol_mismatch")) {
            mismatch = protocol_mismatch_text(values.details["protocol_mismatch"].get<std::vector<std::string>>());
            spdlog::warn("{}: {} compares features of different protocols ({}), as allow_protocol_mismatch permits",
                         stage.name, metric->outputs().front().name, mismatch);
          }
          for (const auto& output : metric->outputs()) {
            out.rows.push_back({step, nfe, output.name, values.values.at(output.name), request.num, seeds, reference_used,
                                detector_used, text("detector_sha256"), text("reference_sha256"), mismatch, w.label});
          }
        }
        if (profile == 0 && set == 0 && e.grid) {
          const auto grid_images = generated->read(0, std::min<int64_t>(64, generated->size()));
          auto png = results::encode_grid_png(grid_images.data_ptr<uint8_t>(), grid_images.size(0), grid_images.size(1),
                                              grid_images.size(2), grid_images.size(3));
          results::write_png_file(folder.grid(nfe), png);
          out.grids.push_back({nfe, std::move(png)});
        }
      }
    }
  }
  return out;
}

}  // namespace cmbench

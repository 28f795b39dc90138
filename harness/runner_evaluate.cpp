#include "harness/runner_evaluate.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "data/image_source.h"
#include "core/rng.h"
#include "harness/network_answers.h"
#include "harness/posthoc_ema.h"
#include "harness/sample.h"
#include "harness/target_statistics.h"
#include "methods/registry.h"
#include "methods/sampler.h"
#include "metrics/features.h"
#include "metrics/ground_truth_features.h"
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
  for (const auto feature : reference_features(metric)) sources.insert(reference.sources.at(feature));
  std::string out;
  for (const auto& s : sources) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

SuiteReferences::SuiteReferences(const Suite& suite, const SuiteEvaluation& evaluation, std::string detector_device)
    : evaluation_(evaluation),
      suite_seed_(static_cast<uint64_t>(suite.seed)),
      detector_device_(std::move(detector_device)),
      metrics_(suite_metrics(suite)) {}

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
  settings.truth_probes = evaluation_.truth_probes;
  return settings;
}

void SuiteReferences::prepare(ProcessGroup* group) { load(group); }

void SuiteReferences::load(ProcessGroup* group) {
  if (loaded_) return;
  loaded_ = true;
  load_detector();
  const auto& e = evaluation_;
  std::set<Feature> full, subset;
  bool probes_needed = false;
  for (const auto& m : metrics_) {
    if (m->image_sets() == 2) (m->equal_set_sizes() ? subset : full).merge(reference_features(*m));
    probes_needed = probes_needed || is_network_metric(*m);
  }
  const bool ground_truth_needed = full.erase(Feature::ground_truth) != 0;
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
  if (ground_truth_needed) full_.merge(ground_truth_features(e.reference_images, probes_needed ? e.truth_probes : 0));
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

// The stage's training method from its method table, as the stage's train plan reads it.
std::unique_ptr<Method> stage_method(const SuiteStage& stage) {
  Config table = stage.options;
  table.put("name", stage.method);
  return make_method(table);
}

// What the network metrics of one stage read besides the ground truth: f_theta of each evaluated
// weights at the probes, and the stage method's target draws at the evaluated step, which depend on
// the method, the step and the ground truth but not on the weights (drawn once per stage evaluation).
class NetworkAnswers {
 public:
  NetworkAnswers(const SuiteStage& stage, const std::vector<const Metric*>& metrics, const ImageSetFeatures& truth,
                 int64_t step, uint64_t suite_seed, std::string device)
      : stage_(stage), truth_(truth), step_(step), suite_seed_(suite_seed), device_(std::move(device)) {
    for (const auto* m : metrics) wanted_.merge(generated_features(*m));
  }

  ImageSetFeatures of(const EvaluatedWeights& w) {
    const auto& probes = reference_probes(&truth_);
    ImageSetFeatures out;
    out.name = fmt::format("{} ({})", w.ckpt, w.ema.empty() ? "default weights" : w.ema);
    out.count = probes.t.size(0);
    if (wanted_.count(Feature::consistency_outputs)) {
      out.truth.consistency_outputs = consistency_outputs(w.ckpt, w.ema, probes, stage_.evaluation.batch, device_);
      out.sources[Feature::consistency_outputs] = out.name;
    }
    if (wanted_.count(Feature::target_estimates)) {
      if (!targets_) targets_ = draw_targets(probes);
      out.truth.target_r = targets_->target_r;
      out.truth.target_x_r = targets_->target_x_r;
      out.sources[Feature::target_estimates] = "stage " + stage_.name;
    }
    return out;
  }

 private:
  TruthAnswers draw_targets(const TruthProbes& probes) const {
    const auto method = stage_method(stage_);
    StepContext ctx;
    ctx.step = step_;
    ctx.total_steps = stage_.steps;
    ctx.global_batch = stage_.batch;
    ctx.generator = make_generator(suite_seed_, "target-estimates");
    return ground_truth_target_estimates(*method, *truth_.mixture, probes, stage_.batch,
                                         stage_.evaluation.target_draws, ctx);
  }

  const SuiteStage& stage_;
  const ImageSetFeatures& truth_;
  int64_t step_;
  uint64_t suite_seed_;
  std::string device_;
  std::set<Feature> wanted_;
  std::optional<TruthAnswers> targets_;
};

// The rows of the network metrics for weights `w`: one per value a metric yields (none for a
// metric that does not apply, e.g. target statistics of a method without target points).
void add_network_rows(const std::vector<const Metric*>& metrics, SuiteReferences& references, NetworkAnswers& answers,
                      const EvaluatedWeights& w, int64_t step, std::vector<results::EvaluationRow>& rows) {
  std::optional<ImageSetFeatures> generated;
  for (const auto* metric : metrics) {
    const auto& reference = references.reference_for(*metric);
    if (!generated) generated = answers.of(w);
    const auto values = evaluate_metric(*metric, *generated, &reference, references.settings());
    const int64_t nfe = metric->features().count(Feature::consistency_outputs) ? 1 : 0;
    for (const auto& output : metric->outputs()) {
      const auto value = values.values.find(output.name);
      if (value == values.values.end()) continue;
      rows.push_back({step, nfe, output.name, value->second, generated->count, "probes",
                      reference.sources.at(Feature::ground_truth), "", "", reference.mixture->fingerprint(), "", w.label});
    }
  }
}

}  // namespace

std::vector<int64_t> curve_steps(const SuiteStage& stage) {
  std::vector<int64_t> steps;
  const int64_t every = stage.evaluation.curve_every;
  for (int64_t step = every; every > 0 && step < stage.steps; step += every) steps.push_back(step);
  return steps;
}

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
  std::vector<const Metric*> metrics, network_metrics;
  std::set<Feature> image_features;
  for (const auto& m : references.metrics()) {
    if (is_network_metric(*m)) {
      network_metrics.push_back(m.get());
    } else {
      metrics.push_back(m.get());
      image_features.merge(generated_features(*m));
    }
  }
  std::optional<NetworkAnswers> answers;
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
        const auto features = image_set_features(*generated, select_indices(*generated, 0, 0), image_features,
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
            const auto value = values.values.find(output.name);
            if (value == values.values.end()) continue;  // the metric does not apply here
            out.rows.push_back({step, nfe, output.name, value->second, request.num, seeds, reference_used,
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
    if (network_metrics.empty()) continue;
    references.prepare(group.get());  // every rank loads the references at the same point
    if (group && !group->is_root()) continue;
    if (!answers) {
      answers.emplace(stage, network_metrics, references.reference_for(*network_metrics.front()), step,
                      references.suite_seed(), device);
    }
    spdlog::info("{}{}: network metrics at the ground truth's probes", stage.name, described);
    add_network_rows(network_metrics, references, *answers, w, step, out.rows);
  }
  return out;
}

}  // namespace cmbench

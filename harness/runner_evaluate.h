// Evaluation of one finished stage for the suite runner: samples every NFE x seed set with the
// stage's sampling rule, computes the suite's metrics (the registry's, as `cmbench fid|is|swd`
// compute them), and tiles an 8x8 grid per NFE. Network metrics (metrics/ground_truth_features.h:
// the consistency error and the target statistics of a gmm: ground truth) read no images: they are
// evaluated once per weights profile, at the ground truth's probe set.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/run_folder.h"
#include "harness/suite.h"
#include "harness/train_plan.h"
#include "metrics/detector.h"
#include "metrics/dinov2_detector.h"
#include "metrics/image_set_features.h"
#include "metrics/metric.h"
#include "metrics/vgg16_detector.h"
#include "results/records.h"

namespace cmbench {

struct StageEvaluation {
  std::vector<results::EvaluationRow> rows;
  std::vector<results::SampleGrid> grids;
};

// The suite's metrics and what they compare against for one evaluation reference ([evaluation.reference],
// or a stage's own), loaded once per suite run on first use (a
// run whose stages are all complete loads nothing): the feature networks (Inception, DINOv2, VGG16,
// each only when a metric needs it), and the reference features, both
// the full reference (FID statistics) and its EDM subset of num_samples images (SWD compares sets
// of equal size). The detector runs on `detector_device` ("auto": CUDA when available; a rank's
// "cuda:N" in a multi-process run). A metric reading the ground truth (a gmm: [evaluation.reference]
// images) gets the mixture, and its probe set (evaluation.truth_probes per bucket) when a network
// metric needs one, without reading any reference image.
class SuiteReferences {
 public:
  SuiteReferences(const Suite& suite, const SuiteEvaluation& evaluation, std::string detector_device = "auto");
  const std::vector<std::unique_ptr<Metric>>& metrics() const { return metrics_; }
  const FeatureNetworks& networks();                            // the ones no metric needs are null; loads nothing else
  const ImageSetFeatures& reference_for(const Metric& metric);  // the metric's reference set
  std::string detector_description(const Metric& metric);       // its networks' describe(), "" without one
  MetricSettings settings() const;                              // the suite's metric settings
  uint64_t suite_seed() const { return suite_seed_; }           // [suite] seed (the target draws' generator)
  // Loads the reference features now, their Inception batches shared out over `group`'s ranks
  // (extract_features); every rank calls it at the same point. Later calls do nothing.
  void prepare(ProcessGroup* group);

 private:
  void load(ProcessGroup* group = nullptr);
  void load_detector();
  bool detector_loaded_ = false;
  const SuiteEvaluation& evaluation_;
  uint64_t suite_seed_ = 0;
  std::string detector_device_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  bool loaded_ = false;
  std::unique_ptr<InceptionDetector> detector_;
  std::unique_ptr<Dinov2Detector> dinov2_;
  std::unique_ptr<Vgg16Detector> vgg16_;
  FeatureNetworks networks_;
  ImageSetFeatures full_, subset_;
};

// Weights a stage is evaluated with: a checkpoint, its weights group as `cmbench sample --ema` names
// it, and the label stored in each row ("" for the checkpoint's default weights).
struct EvaluatedWeights {
  std::string ckpt, ema, label;
};

// The EMA profiles of a finished stage to evaluate (the stage's evaluation.ema, else every profile
// it trains, `emas`), then its EDM2 post-hoc reconstructions from the power-function profiles of the
// folder's checkpoints (written into `folder` by rank 0 of `group`, every rank waiting for them).
// InputError naming the stage when a named profile does not exist (check_evaluated_profiles).
std::vector<EvaluatedWeights> stage_weights(const SuiteStage& stage, const std::vector<EmaPlan>& emas,
                                            const std::string& ckpt, const RunFolder& folder, ProcessGroup* group);
// The EMA profiles (weights groups as `cmbench sample --ema` names them) a stage evaluates: its
// evaluation.ema, else every profile it trains (`emas`), else its trained weights ("model").
std::vector<std::string> evaluated_profiles(const SuiteStage& stage, const std::vector<EmaPlan>& emas);
// The steps of a stage's metric curve: every multiple of evaluation.curve_every below its steps (the
// final evaluation adds the last point). Each point evaluates evaluated_profiles, without grids or
// post-hoc reconstructions.
std::vector<int64_t> curve_steps(const SuiteStage& stage);
// InputError naming the stage's line when its evaluation names a profile it does not train, or asks
// for post-hoc reconstructions without a power-function profile.
void check_evaluated_profiles(const SuiteStage& stage, const std::vector<EmaPlan>& emas);

// The profiles of `weights` are evaluated in turn at every NFE and seed set, the stage's own sampler
// knobs applied; grids come from the first. The network metrics of each profile follow its image
// rows: seed set "probes", num_samples the probe count, NFE 1 for f_theta's consistency error (one
// network evaluation), 0 for the target statistics (no network evaluation; rows only for a method
// with target points, drawn at `step` with a generator from the suite seed), reference the gmm: spec
// and reference_sha256 the mixture's fingerprint.
// `ckpt` is the stage's final checkpoint at training step `step`; samples and grids go to `folder`.
// Sampling runs on `device` (the run's --device), its batches shared by the ranks of `group`;
// the Inception batches too (extract_features), the reference features' included; the metric values
// and grids are computed on rank 0, the other ranks return no rows.
StageEvaluation evaluate_stage(const SuiteStage& stage, SuiteReferences& references,
                               const std::vector<EvaluatedWeights>& weights, int64_t step, const RunFolder& folder,
                               const std::string& device, const std::shared_ptr<ProcessGroup>& group);

}  // namespace cmbench

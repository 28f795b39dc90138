// Evaluation of one finished stage for the suite runner: samples every NFE x seed set with the
// stage's sampling rule, computes the suite's metrics (the registry's, as `cmbench fid|is|swd`
// compute them), and tiles an 8x8 grid per NFE.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/run_folder.h"
#include "harness/suite.h"
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

// The suite's metrics and what they compare against, loaded once per suite run on first use (a
// run whose stages are all complete loads nothing): the feature networks (Inception, DINOv2, VGG16,
// each only when a metric needs it), and the reference features, both
// the full reference (FID statistics) and its EDM subset of num_samples images (SWD compares sets
// of equal size). The detector runs on `detector_device` ("auto": CUDA when available; a rank's
// "cuda:N" in a multi-process run).
class SuiteReferences {
 public:
  explicit SuiteReferences(const Suite& suite, std::string detector_device = "auto");
  const std::vector<std::unique_ptr<Metric>>& metrics() const { return metrics_; }
  const FeatureNetworks& networks();                            // the ones no metric needs are null; loads nothing else
  const ImageSetFeatures& reference_for(const Metric& metric);  // the metric's reference set
  std::string detector_description(const Metric& metric);       // its networks' describe(), "" without one
  MetricSettings settings() const;                              // the suite's metric settings
  // Loads the reference features now, their Inception batches shared out over `group`'s ranks
  // (extract_features); every rank calls it at the same point. Later calls do nothing.
  void prepare(ProcessGroup* group);

 private:
  void load(ProcessGroup* group = nullptr);
  void load_detector();
  bool detector_loaded_ = false;
  const Suite& suite_;
  std::string detector_device_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  bool loaded_ = false;
  std::unique_ptr<InceptionDetector> detector_;
  std::unique_ptr<Dinov2Detector> dinov2_;
  std::unique_ptr<Vgg16Detector> vgg16_;
  FeatureNetworks networks_;
  ImageSetFeatures full_, subset_;
};

// `ckpt` is the stage's final checkpoint at training step `step`; samples and grids go to `folder`.
// Sampling runs on `device` (the run's --device), its batches shared by the ranks of `group`;
// the Inception batches too (extract_features), the reference features' included; the metric values
// and grids are computed on rank 0, the other ranks return no rows.
StageEvaluation evaluate_stage(const Suite& suite, const SuiteStage& stage, SuiteReferences& references,
                               const std::string& ckpt, int64_t step, const RunFolder& folder,
                               const std::string& device, const std::shared_ptr<ProcessGroup>& group);

}  // namespace cmbench

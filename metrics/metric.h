// One evaluation metric as the CLI (`cmbench fid|is|swd`) and the suite runner both use it, in the
// manner of torch-fidelity: a metric names the features it reads from each image set, and yields
// named values, each with the direction and default regression tolerance `compare` applies.
// Features are computed once per image set (metrics/image_set_features.h) and shared by every
// metric that reads them, so one Inception pass serves FID and IS.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/gaussian_mixture.h"
#include "metrics/statistics.h"

namespace cmbench {

enum class Feature {
  pixels,              // uint8 (N, H, W, 3) of the selected images
  pool3_statistics,    // mu and sigma of the Inception pool3 features (or a statistics .npz)
  inception_logits,    // the unbiased Inception logits (N, 1008)
  pool3_features,      // the Inception pool3 features themselves, float32 (N, 2048) (or a features .npz)
  spatial_statistics,  // mu_s and sigma_s of Inception's mixed_6/conv[..., :7] (2023-d; sFID), same pass as pool3
  dinov2_statistics,   // mu and sigma of the DINOv2 ViT-L/14 class token (1024-d; FD_DINOv2)
  vgg16_features,      // NVIDIA's TorchScript VGG16 features, float32 (N, 4096) (StyleGAN's pr50k3)
  // The ground truth of a `gmm:` source (data/gmm_source.h): the exact mixture and its probe set.
  ground_truth,
  // f_theta(x_t, t) of the evaluated network at the ground truth's probes (one network evaluation,
  // computed by whoever holds the network: the suite runner, `cmbench consistency-error`).
  consistency_outputs,
  // The evaluated stage's training-target points at the probes (Method::target_points), draws per probe.
  target_estimates,
};

// A network's (or a method's) answers at the ground truth's probe set, which a metric compares with
// the exact ones. consistency_outputs: (P, C, H, W). target_estimates: r (P,) and x_r (P, M, C, H, W).
struct TruthAnswers {
  torch::Tensor consistency_outputs;
  torch::Tensor target_r, target_x_r;
};

// The features a Gaussian (mu, sigma) summarizes, which a statistics file can hold.
inline bool is_statistics_feature(Feature feature) {
  return feature == Feature::pool3_statistics || feature == Feature::spatial_statistics ||
         feature == Feature::dinov2_statistics;
}

// The features of one image set (or of a statistics file), with where each came from.
struct ImageSetFeatures {
  std::string name;   // the input as given, for messages
  int64_t count = 0;  // images selected; the file's n for statistics files (-1 when it does not say)
  torch::Tensor pixels;
  std::optional<FeatureStatistics> pool3_statistics, spatial_statistics, dinov2_statistics;
  torch::Tensor logits;
  torch::Tensor pool3;
  torch::Tensor vgg16;
  std::shared_ptr<const GaussianMixture> mixture;  // ground_truth: the exact distribution
  std::shared_ptr<const TruthProbes> probes;       // ground_truth: its fixed probe set
  TruthAnswers truth;                              // consistency_outputs, target_estimates
  std::map<Feature, std::string> sources;  // the path or split each feature was computed from
  std::map<Feature, nlohmann::json> protocols;  // how each was computed (metrics/protocol.h); {} when unknown

  bool has(Feature feature) const { return sources.count(feature) != 0; }
  // The slot of a statistics feature (is_statistics_feature); std::logic_error for another.
  std::optional<FeatureStatistics>& statistics(Feature feature);
  const std::optional<FeatureStatistics>& statistics(Feature feature) const;
  // Adds the features of `other` that this set lacks.
  void merge(ImageSetFeatures other);
};

// The default relative tolerance of every shipped metric value: about 100 times the largest
// cross-CPU spread measured for the CI suite (8.3e-6 relative; ci/README.md). Suites set their own.
inline constexpr double kDefaultMetricRtol = 1e-3;

// One value a metric yields: the row name in the store and the key in `--json`, and the policy
// defaults a suite's [metrics.NAME] table may override.
struct MetricOutput {
  std::string name;
  bool higher_is_better = false;
  double rtol = kDefaultMetricRtol, atol = 0.0;  // a change for the worse beyond atol + rtol*|baseline| regresses
  std::string aggregate = "mean";   // over seed sets: mean, min or max
};

// Settings of every metric in one flat set, as torch-fidelity's keyword arguments.
struct MetricSettings {
  int64_t seed = 0;                       // SWD: neighborhood positions and directions
  int64_t is_splits = 10;                 // IS: contiguous splits
  std::optional<uint32_t> is_shuffle_seed;  // IS: numpy permutation of the predictions first
  int64_t kid_subsets = 100;              // KID: torch-fidelity's kid_subsets
  int64_t kid_subset_size = 1000;         // KID: kid_subset_size
  bool allow_protocol_mismatch = false;   // compare features of different protocols (recorded; metrics/protocol.h)
  int64_t truth_probes = 64;              // ground-truth metrics: probes per noise-level bucket
};

struct MetricValues {
  std::map<std::string, double> values;              // one per MetricOutput
  nlohmann::json details = nlohmann::json::object();  // extra --json keys (swd_levels, splits, ...)
};

class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::vector<MetricOutput> outputs() const = 0;
  virtual std::set<Feature> features() const = 0;  // read from every set the metric compares
  // 1: the generated set only (IS); 2: generated against a reference (FID, SWD).
  virtual int image_sets() const = 0;
  // Both sets must hold the same number of images (SWD): the reference is then the EDM subset of
  // the generated set's size.
  virtual bool equal_set_sizes() const { return false; }
  // `reference` is null for one-set metrics. InputError naming the inputs for mismatching features.
  virtual MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                               const MetricSettings& settings) const = 0;
  // One human-readable line of the values, e.g. "Inception Score 4.51 +- 0.12".
  virtual std::string summary(const MetricValues& values) const = 0;
};

}  // namespace cmbench

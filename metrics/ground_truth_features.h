// The reference side of the ground-truth metrics (gt_fd, gt_loglik, consistency_error,
// target_stats): the exact mixture of a `gmm:` source (data/gmm_source.h) and its fixed probe set
// (core/gaussian_mixture.h make_truth_probes, seed 0). Such a metric reads only Feature::ground_truth
// from its reference; everything else it reads (pixels, a network's or a method's answers at the
// probes) comes from the generated side.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "metrics/metric.h"

namespace cmbench {

// The ground truth of `spec`: the mixture, and with per_bucket > 0 its probe set of per_bucket
// probes per noise-level bucket (0: the mixture only, for the image metrics). The set's name and
// source are the spec. InputError naming the spec when it is no gmm: source.
ImageSetFeatures ground_truth_features(const std::string& spec, int64_t per_bucket);

// The features `metric` reads from the generated set and from its reference (they differ only for
// a metric reading the ground truth).
std::set<Feature> generated_features(const Metric& metric);
std::set<Feature> reference_features(const Metric& metric);

// A metric of the network's (or the method's) answers at the probes instead of generated images:
// evaluated once per weights, not per NFE and seed set.
bool is_network_metric(const Metric& metric);

// The mixture and the probes of a metric's reference; InputError naming the set when it holds none.
const GaussianMixture& reference_mixture(const ImageSetFeatures* reference);
const TruthProbes& reference_probes(const ImageSetFeatures* reference);

// Per noise-level bucket (truth_bucket_count() of them), the mean of `per_probe` (P,) over the
// probes of the bucket (`bucket`, (P,) int64); NaN for a bucket without probes.
std::vector<double> bucket_means(const torch::Tensor& per_probe, const torch::Tensor& bucket);
// "PREFIX_t0" ... "PREFIX_t5": the per-bucket output names.
std::vector<std::string> bucket_output_names(const std::string& prefix);

}  // namespace cmbench

// Provenance of features (issue 14, item 5): the protocol a feature was computed under (detector,
// its weights' sha256, preprocessing mode, layer, ddof for statistics), recorded in statistics and
// features files and checked before two sets are compared, so that a FID of native-Inception
// statistics against TorchScript ones, or of tf-mode against pytorch-mode features, is refused
// with one line instead of reported. n and the dataset (`source`) are recorded but not compared:
// comparing different data is what metrics are for.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "metrics/metric.h"

namespace cmbench {

// The keys on which two protocols must agree; a key absent from either side is unknown, not different.
const std::vector<std::string>& protocol_keys();

// The layer name a feature records ("pool3", "logits_unbiased", "mixed_6/conv[:7]", "dinov2_cls", "vgg16").
std::string feature_layer(Feature feature);

// `detector` (a describe() object) with the layer and, for statistics, the ddof: the protocol of one feature.
nlohmann::json feature_protocol(const nlohmann::json& detector, Feature feature, int ddof = 1);

// The protocol of `feature` as a statistics or features file's `meta` records it (protocol keys only).
// A statistics file holding several pairs names each pair's protocol under meta["statistics"][MU_KEY];
// otherwise the top-level keys describe the Inception features (pool3 and sFID's, one pass) and a
// DINOv2 pair's protocol is unknown. `layer` follows the feature.
nlohmann::json protocol_from_meta(const nlohmann::json& meta, Feature feature, const std::string& mu_key = "");

// "mode: tf vs pytorch" for every protocol key both name with different values.
std::vector<std::string> protocol_differences(const nlohmann::json& a, const nlohmann::json& b);

// The differences joined by "; ", as messages and stored rows give them.
std::string protocol_mismatch_text(const std::vector<std::string>& differences);

// InputError "A vs B: features computed under different protocols (...); pass --allow-protocol-mismatch
// ..." when there are differences and `allow` is false.
void check_protocols(const std::vector<std::string>& differences, const std::string& a, const std::string& b,
                     bool allow);

// sha256 of a tensor's values (dtype and shape included), for stored rows' reference hashes.
std::string tensor_sha256(const torch::Tensor& values);

// The content hash of the features `metric` reads from `set` (statistics: mu then sigma), "" for none.
std::string features_sha256(const Metric& metric, const ImageSetFeatures& set);

// The detector weights' sha256 behind the features `metric` reads from `set`, "" when none.
std::string detector_sha256(const Metric& metric, const ImageSetFeatures& set);

// One metric on two sets (or one) as the CLI and the suite runner compute it: the protocols of the
// features it reads are compared first (InputError naming both inputs and the differences unless
// settings.allow_protocol_mismatch; an allowed mismatch is recorded in details "protocol_mismatch"),
// then the metric; details gain "reference_sha256" and "detector_sha256".
MetricValues evaluate_metric(const Metric& metric, const ImageSetFeatures& generated,
                             const ImageSetFeatures* reference, const MetricSettings& settings);

}  // namespace cmbench

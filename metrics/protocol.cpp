#include "metrics/protocol.h"

#include <fmt/format.h>

#include "core/digest.h"
#include "core/error.h"

namespace cmbench {

const std::vector<std::string>& protocol_keys() {
  static const std::vector<std::string> keys = {"detector", "weights_sha256", "mode", "layer", "ddof"};
  return keys;
}

std::string feature_layer(Feature feature) {
  switch (feature) {
    case Feature::pool3_statistics:
    case Feature::pool3_features: return "pool3";
    case Feature::inception_logits: return "logits_unbiased";
    case Feature::spatial_statistics: return "mixed_6/conv[:7]";
    case Feature::dinov2_statistics: return "dinov2_cls";
    case Feature::vgg16_features: return "vgg16";
    case Feature::pixels: return "pixels";
    case Feature::ground_truth: return "ground_truth";
    case Feature::consistency_outputs: return "consistency_outputs";
    case Feature::target_estimates: return "target_estimates";
  }
  return "";
}

nlohmann::json feature_protocol(const nlohmann::json& detector, Feature feature, int ddof) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& key : protocol_keys()) {
    if (detector.is_object() && detector.contains(key)) out[key] = detector[key];
  }
  out["layer"] = feature_layer(feature);
  if (is_statistics_feature(feature)) out["ddof"] = ddof;
  return out;
}

nlohmann::json protocol_from_meta(const nlohmann::json& meta, Feature feature, const std::string& mu_key) {
  nlohmann::json out = nlohmann::json::object();
  if (!meta.is_object()) return out;
  const nlohmann::json* described = &meta;
  if (meta.contains("statistics") && meta["statistics"].is_object() && meta["statistics"].contains(mu_key)) {
    described = &meta["statistics"][mu_key];
  } else if (feature == Feature::dinov2_statistics || feature == Feature::vgg16_features) {
    if (!meta.contains("layer") || meta["layer"] != feature_layer(feature)) described = nullptr;
  }
  if (!described || !described->is_object()) return out;
  for (const auto& key : protocol_keys()) {
    if (described->contains(key)) out[key] = (*described)[key];
  }
  // A statistics file's meta describes every statistics pair it holds; the pair's key is the layer.
  if (is_statistics_feature(feature) || !out.contains("layer")) out["layer"] = feature_layer(feature);
  return out;
}

std::vector<std::string> protocol_differences(const nlohmann::json& a, const nlohmann::json& b) {
  std::vector<std::string> out;
  for (const auto& key : protocol_keys()) {
    if (a.contains(key) && b.contains(key) && a[key] != b[key]) {
      const auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
      out.push_back(fmt::format("{}: {} vs {}", key, text(a[key]), text(b[key])));
    }
  }
  return out;
}

std::string protocol_mismatch_text(const std::vector<std::string>& differences) {
  std::string out;
  for (const auto& d : differences) out += (out.empty() ? "" : "; ") + d;
  return out;
}

void check_protocols(const std::vector<std::string>& differences, const std::string& a, const std::string& b,
                     bool allow) {
  if (differences.empty() || allow) return;
  throw InputError(fmt::format("{} vs {}: features computed under different protocols ({}); pass "
                               "--allow-protocol-mismatch (suites: [evaluation] allow_protocol_mismatch = true) "
                               "to compare them anyway",
                               a, b, protocol_mismatch_text(differences)));
}

std::string tensor_sha256(const torch::Tensor& values) {
  const auto contiguous = values.to(torch::kCPU).contiguous();
  Digest digest(Digest::Kind::sha256);
  const std::string header = fmt::format("{}{}", std::string(c10::toString(contiguous.scalar_type())),
                                         nlohmann::json(contiguous.sizes().vec()).dump());
  digest.update(header.data(), header.size());
  digest.update(contiguous.data_ptr(), contiguous.numel() * contiguous.element_size());
  return digest.hex();
}

namespace {

const torch::Tensor* tensor_of(const ImageSetFeatures& set, Feature feature) {
  switch (feature) {
    case Feature::pixels: return &set.pixels;
    case Feature::inception_logits: return &set.logits;
    case Feature::pool3_features: return &set.pool3;
    case Feature::vgg16_features: return &set.vgg16;
    default: return nullptr;
  }
}

nlohmann::json protocol_of(const ImageSetFeatures& set, Feature feature) {
  const auto it = set.protocols.find(feature);
  return it == set.protocols.end() ? nlohmann::json::object() : it->second;
}

}  // namespace

std::string features_sha256(const Metric& metric, const ImageSetFeatures& set) {
  Digest digest(Digest::Kind::sha256);
  bool any = false;
  for (const auto feature : metric.features()) {
    std::vector<std::string> parts;
    if (is_statistics_feature(feature)) {
      if (const auto& stats = set.statistics(feature)) parts = {tensor_sha256(stats->mu), tensor_sha256(stats->sigma)};
    } else if (const auto* tensor = tensor_of(set, feature); tensor && tensor->defined()) {
      parts = {tensor_sha256(*tensor)};
    }
    for (const auto& p : parts) digest.update(p.data(), p.size());
    any = any || !parts.empty();
  }
  return any ? digest.hex() : "";
}

std::string detector_sha256(const Metric& metric, const ImageSetFeatures& set) {
  for (const auto feature : metric.features()) {
    const auto protocol = protocol_of(set, feature);
    if (protocol.contains("weights_sha256") && protocol["weights_sha256"].is_string()) {
      return protocol["weights_sha256"].get<std::string>();
    }
  }
  return "";
}

MetricValues evaluate_metric(const Metric& metric, const ImageSetFeatures& generated,
                             const ImageSetFeatures* reference, const MetricSettings& settings) {
  std::vector<std::string> mismatches;
  if (reference) {
    for (const auto feature : metric.features()) {
      for (const auto& d : protocol_differences(protocol_of(generated, feature), protocol_of(*reference, feature))) {
        mismatches.push_back(fmt::format("{} {}", feature_layer(feature), d));
      }
    }
  }
  if (reference) check_protocols(mismatches, generated.name, reference->name, settings.allow_protocol_mismatch);
  auto values = metric.compute(generated, reference, settings);
  if (!mismatches.empty()) values.details["protocol_mismatch"] = mismatches;
  // A metric may name its reference itself (the ground-truth metrics: the mixture's fingerprint).
  if (reference && !values.details.contains("reference_sha256")) values.details["reference_sha256"] = features_sha256(metric, *reference);
  if (const auto hash = detector_sha256(metric, generated); !hash.empty()) values.details["detector_sha256"] = hash;
  return values;
}

}  // namespace cmbench

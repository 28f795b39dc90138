// Improved precision and recall (Kynkäänniemi et al. 2019, k = 3) in the two protocols of
// metrics/precision_recall.h, one registry entry each. Precision is the share of generated images
// inside the reference's manifold, recall the share of reference images inside the generated one.
//
// - `pr`: guided-diffusion's evaluator (ImageNet-64 rows of CD, CT, iCT): Inception pool3 features,
//   its float16 distances and batching.
// - `pr50k3`: StyleGAN's pr50k3 (NVlabs/stylegan2-ada-pytorch metrics/precision_recall.py, offered by
//   ECT's code base as pr50k3_full): NVIDIA's TorchScript VGG16 features (metrics/vgg16_detector.h),
//   StyleGAN2-ADA's float16 cdist. Stored as pr50k3_precision and pr50k3_recall so that the two never
//   mix; details also give them as precision and recall, which `cmbench pr --protocol stylegan2-ada`
//   prints.
#include <fmt/format.h>

#include "metrics/metric.h"
#include "metrics/precision_recall.h"

namespace cmbench {

namespace {

struct PrVariant {
  Feature feature;             // pool3_features or vgg16_features
  PrProtocol protocol;
  std::string prefix;          // of the stored value names: "" or "pr50k3_"
  std::string protocol_label;  // details' pr_protocol
};

class PrecisionRecallMetric final : public Metric {
 public:
  explicit PrecisionRecallMetric(PrVariant variant) : v_(std::move(variant)) {}

  std::vector<MetricOutput> outputs() const override {
    return {{.name = v_.prefix + "precision", .higher_is_better = true},
            {.name = v_.prefix + "recall", .higher_is_better = true}};
  }
  std::set<Feature> features() const override { return {v_.feature}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const auto rows = [&](const ImageSetFeatures& set) -> const torch::Tensor& {
      return v_.feature == Feature::vgg16_features ? set.vgg16 : set.pool3;
    };
    const auto pr = precision_recall(rows(*reference), rows(generated), PrecisionRecallOptions().protocol(v_.protocol));
    nlohmann::json details{{"pr_protocol", v_.protocol_label}, {"pr_k", 3},
                           {"precision_count", pr.precision_count}, {"recall_count", pr.recall_count}};
    if (!v_.prefix.empty()) {
      details["precision"] = pr.precision;
      details["recall"] = pr.recall;
    }
    return {{{v_.prefix + "precision", pr.precision}, {v_.prefix + "recall", pr.recall}}, details};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("precision {:.4f}, recall {:.4f}{}", v.values.at(v_.prefix + "precision"),
                       v.values.at(v_.prefix + "recall"),
                       v_.prefix.empty() ? "" : " (pr50k3: VGG16, StyleGAN2-ADA)");
  }

 private:
  PrVariant v_;
};

}  // namespace

std::unique_ptr<Metric> make_precision_recall_metric() {
  return std::make_unique<PrecisionRecallMetric>(
      PrVariant{Feature::pool3_features, PrProtocol::guided_diffusion, "", "guided-diffusion"});
}

std::unique_ptr<Metric> make_pr50k3_metric() {
  return std::make_unique<PrecisionRecallMetric>(
      PrVariant{Feature::vgg16_features, PrProtocol::stylegan2_ada, "pr50k3_", "stylegan2-ada"});
}

}  // namespace cmbench

// StyleGAN's pr50k3 (NVlabs/stylegan2-ada-pytorch metrics/precision_recall.py, which ECT's code base
// offers as pr50k3_full): improved precision and recall, k = 3, on NVIDIA's TorchScript VGG16
// features (metrics/vgg16_detector.h) with StyleGAN2-ADA's float16 cdist (metrics/precision_recall.h).
// Stored as pr50k3_precision and pr50k3_recall so that they never mix with guided-diffusion's `pr`;
// `cmbench pr --protocol stylegan2-ada` also prints them as precision and recall.
#include <fmt/format.h>

#include "metrics/metric.h"
#include "metrics/precision_recall.h"

namespace cmbench {

namespace {

class Pr50k3Metric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override {
    return {{.name = "pr50k3_precision", .higher_is_better = true}, {.name = "pr50k3_recall", .higher_is_better = true}};
  }
  std::set<Feature> features() const override { return {Feature::vgg16_features}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const auto pr = precision_recall(reference->vgg16, generated.vgg16,
                                     PrecisionRecallOptions().protocol(PrProtocol::stylegan2_ada));
    nlohmann::json details{{"pr_protocol", "stylegan2-ada"}, {"pr_k", 3},
                           {"precision", pr.precision}, {"recall", pr.recall},
                           {"precision_count", pr.precision_count}, {"recall_count", pr.recall_count}};
    return {{{"pr50k3_precision", pr.precision}, {"pr50k3_recall", pr.recall}}, details};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("precision {:.4f}, recall {:.4f} (pr50k3: VGG16, StyleGAN2-ADA)",
                       v.values.at("pr50k3_precision"), v.values.at("pr50k3_recall"));
  }
};

}  // namespace

std::unique_ptr<Metric> make_pr50k3_metric() { return std::make_unique<Pr50k3Metric>(); }

}  // namespace cmbench

// Improved precision and recall (Kynkäänniemi et al. 2019, k = 3) as guided-diffusion's evaluator
// reports them for ImageNet-64: Inception pool3 features, its float16 distances and batching
// (metrics/precision_recall.h). Precision is the share of generated images inside the reference's
// manifold, recall the share of reference images inside the generated one.
#include <fmt/format.h>

#include "metrics/metric.h"
#include "metrics/precision_recall.h"

namespace cmbench {

namespace {

class PrecisionRecallMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override {
    return {{.name = "precision", .higher_is_better = true}, {.name = "recall", .higher_is_better = true}};
  }
  std::set<Feature> features() const override { return {Feature::pool3_features}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const auto pr = precision_recall(reference->pool3, generated.pool3,
                                     PrecisionRecallOptions().protocol(PrProtocol::guided_diffusion));
    nlohmann::json details{{"pr_protocol", "guided-diffusion"}, {"pr_k", 3},
                           {"precision_count", pr.precision_count}, {"recall_count", pr.recall_count}};
    return {{{"precision", pr.precision}, {"recall", pr.recall}}, details};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("precision {:.4f}, recall {:.4f}", v.values.at("precision"), v.values.at("recall"));
  }
};

}  // namespace

std::unique_ptr<Metric> make_precision_recall_metric() { return std::make_unique<PrecisionRecallMetric>(); }

}  // namespace cmbench

// KID (torch-fidelity's metric_kid.py): the unbiased MMD^2 of the cubic polynomial kernel on the
// Inception pool3 features, over `kid_subsets` random subsets of `kid_subset_size` (metrics/kid.h).
#include <fmt/format.h>

#include "metrics/kid.h"
#include "metrics/metric.h"

namespace cmbench {

namespace {

class KidMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override { return {{.name = "kid_mean"}, {.name = "kid_std"}}; }
  std::set<Feature> features() const override { return {Feature::pool3_features}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings& settings) const override {
    const auto kid = kernel_inception_distance(
        generated.pool3, reference->pool3,
        KidOptions().subsets(settings.kid_subsets).subset_size(settings.kid_subset_size));
    nlohmann::json details{{"kid_subsets", settings.kid_subsets}, {"kid_subset_size", settings.kid_subset_size}};
    return {{{"kid_mean", kid.mean}, {"kid_std", kid.std}}, details};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("KID {:.6g} +- {:.6g}", v.values.at("kid_mean"), v.values.at("kid_std"));
  }
};

}  // namespace

std::unique_ptr<Metric> make_kid_metric() { return std::make_unique<KidMetric>(); }

}  // namespace cmbench

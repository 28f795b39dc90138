// sFID (Nash et al. 2021, as guided-diffusion's evaluations/evaluator.py computes it): the Fréchet
// distance of the statistics of Inception's mixed_6/conv features, their first 7 channels (17 x 17 x 7
// = 2023 dims), from the same Inception pass as pool3 (metrics/inception.h); reference batches
// carry them as mu_s and sigma_s.
#include <fmt/format.h>

#include "metrics/frechet.h"
#include "metrics/metric.h"

namespace cmbench {

namespace {

class SfidMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override { return {{.name = "sfid"}}; }
  std::set<Feature> features() const override { return {Feature::spatial_statistics}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const double sfid = frechet_distance(*generated.spatial_statistics, generated.name,
                                         *reference->spatial_statistics, reference->name);
    return {{{"sfid", sfid}}, nlohmann::json::object()};
  }

  std::string summary(const MetricValues& v) const override { return fmt::format("sFID {:.6f}", v.values.at("sfid")); }
};

}  // namespace

std::unique_ptr<Metric> make_sfid_metric() { return std::make_unique<SfidMetric>(); }

}  // namespace cmbench

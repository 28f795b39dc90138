// FID (METRICS.md §3): the Fréchet distance of the pool3 statistics of the generated set and the
// reference (images or a statistics .npz). EDM reports the minimum over its three seed sets.
#include <fmt/format.h>

#include "metrics/frechet.h"
#include "metrics/metric.h"

namespace cmbench {

namespace {

class FidMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override {
    return {{.name = "fid", .aggregate = "min"}};
  }
  std::set<Feature> features() const override { return {Feature::pool3_statistics}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const double fid =
        frechet_distance(*generated.pool3_statistics, generated.name, *reference->pool3_statistics, reference->name);
    return {{{"fid", fid}}, nlohmann::json::object()};
  }

  std::string summary(const MetricValues& v) const override { return fmt::format("FID {:.6f}", v.values.at("fid")); }
};

}  // namespace

std::unique_ptr<Metric> make_fid_metric() { return std::make_unique<FidMetric>(); }

}  // namespace cmbench

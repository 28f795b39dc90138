// FD_DINOv2 (Stein et al. 2023, as EDM2's calculate_metrics.py computes it): the Fréchet distance of
// the statistics of the DINOv2 ViT-L/14 class token (metrics/dinov2.h), float64, ddof 1.
#include <fmt/format.h>

#include "metrics/frechet.h"
#include "metrics/metric.h"

namespace cmbench {

namespace {

class FdDinov2Metric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override { return {{.name = "fd_dinov2"}}; }
  std::set<Feature> features() const override { return {Feature::dinov2_statistics}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const double fd = frechet_distance(*generated.dinov2_statistics, generated.name, *reference->dinov2_statistics,
                                       reference->name);
    return {{{"fd_dinov2", fd}}, nlohmann::json::object()};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("FD_DINOv2 {:.6f}", v.values.at("fd_dinov2"));
  }
};

}  // namespace

std::unique_ptr<Metric> make_fd_dinov2_metric() { return std::make_unique<FdDinov2Metric>(); }

}  // namespace cmbench

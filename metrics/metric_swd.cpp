// SWD (METRICS.md §5) of the pixels of two equally large sets; needs no weights.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "metrics/metric.h"
#include "metrics/swd.h"

namespace cmbench {

namespace {

class SwdMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override { return {{.name = "swd"}}; }
  std::set<Feature> features() const override { return {Feature::pixels}; }
  int image_sets() const override { return 2; }
  bool equal_set_sizes() const override { return true; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings& settings) const override {
    if (generated.count != reference->count) {
      throw InputError(fmt::format("{}: SWD needs sets of equal size, got {} images here and {} in {}", reference->name,
                                   reference->count, generated.count, generated.name));
    }
    if (settings.seed < 0 || settings.seed > 0xffffffffLL) throw InputError("--seed must be in [0, 2^32 - 1]");
    const auto r = sliced_wasserstein(generated.pixels, reference->pixels, SwdOptions().seed(settings.seed));
    return {{{"swd", r.average}}, {{"swd_levels", r.levels}, {"resolutions", r.resolutions}}};
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("SWD x1e3 {:.4f} (levels {} at {})", v.values.at("swd"),
                       fmt::join(v.details.at("swd_levels").get<std::vector<double>>(), ", "),
                       fmt::join(v.details.at("resolutions").get<std::vector<int64_t>>(), ", "));
  }
};

}  // namespace

std::unique_ptr<Metric> make_swd_metric() { return std::make_unique<SwdMetric>(); }

}  // namespace cmbench

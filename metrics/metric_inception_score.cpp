// Inception Score (METRICS.md §4) of the generated set's unbiased logits: mean and population std
// over contiguous splits, two values with policies of their own.
#include <fmt/format.h>

#include "metrics/inception_score.h"
#include "metrics/metric.h"

namespace cmbench {

namespace {

class InceptionScoreMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override {
    return {{.name = "is_mean", .higher_is_better = true}, {.name = "is_std"}};
  }
  std::set<Feature> features() const override { return {Feature::inception_logits}; }
  int image_sets() const override { return 1; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures*,
                       const MetricSettings& settings) const override {
    const auto score = inception_score_from_logits(generated.logits, settings.is_splits, settings.is_shuffle_seed);
    MetricValues out{{{"is_mean", score.mean}, {"is_std", score.std}}, {{"splits", settings.is_splits}}};
    out.details["shuffle_seed"] =
        settings.is_shuffle_seed ? nlohmann::json(*settings.is_shuffle_seed) : nlohmann::json(nullptr);
    return out;
  }

  std::string summary(const MetricValues& v) const override {
    return fmt::format("Inception Score {:.6f} +- {:.6f} ({} splits)", v.values.at("is_mean"), v.values.at("is_std"),
                       v.details.at("splits").get<int64_t>());
  }
};

}  // namespace

std::unique_ptr<Metric> make_inception_score_metric() { return std::make_unique<InceptionScoreMetric>(); }

}  // namespace cmbench

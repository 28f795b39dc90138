// The consistency error (issue 16): E ||f_theta(x_t, t) - f*(x_t, t)||^2 / D over the ground truth's
// fixed probe set, where f* is the exact consistency function (the PF-ODE solution at level 0 with the
// mixture's exact denoiser, core/gaussian_mixture.h). `cerr` is the mean over every probe, `cerr_tB`
// the mean over the probes of noise-level bucket B (truth_bucket_edges()).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "metrics/ground_truth_features.h"
#include "metrics/metric.h"

namespace cmbench {

namespace {

class ConsistencyErrorMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override {
    std::vector<MetricOutput> out = {{.name = "cerr"}};
    for (const auto& name : bucket_output_names("cerr")) out.push_back({.name = name});
    return out;
  }
  std::set<Feature> features() const override { return {Feature::consistency_outputs, Feature::ground_truth}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const auto& probes = reference_probes(reference);
    const auto& outputs = generated.truth.consistency_outputs;
    if (!outputs.defined() || outputs.sizes() != probes.f_star.sizes()) {
      throw InputError(fmt::format("{}: the consistency outputs must be (P, C, H, W) = [{}] as the probes of {}, found [{}]",
                                   generated.name, fmt::join(probes.f_star.sizes(), ", "), reference->name,
                                   outputs.defined() ? fmt::format("{}", fmt::join(outputs.sizes(), ", ")) : "none"));
    }
    const int64_t probe_count = outputs.size(0);
    const auto per_probe = (outputs.to(torch::kFloat64) - probes.f_star).square().reshape({probe_count, -1}).mean(1);
    MetricValues out;
    out.values["cerr"] = per_probe.mean().item<double>();
    const auto names = bucket_output_names("cerr");
    const auto means = bucket_means(per_probe, probes.bucket);
    for (size_t b = 0; b < names.size(); ++b) out.values[names[b]] = means[b];
    out.details = {{"ode_error_bound", probes.error_bound},
                   {"probes", probe_count},
                   {"bucket_edges", truth_bucket_edges()},
                   {"reference_sha256", reference->mixture->fingerprint()}};
    return out;
  }

  std::string summary(const MetricValues& v) const override {
    std::vector<std::string> buckets;
    for (const auto& name : bucket_output_names("cerr")) buckets.push_back(fmt::format("{:.4g}", v.values.at(name)));
    return fmt::format("consistency error {:.6g} per dimension (buckets {}; ODE error bound {:.2g})", v.values.at("cerr"),
                       fmt::join(buckets, ", "), v.details.at("ode_error_bound").get<double>());
  }
};

}  // namespace

std::unique_ptr<Metric> make_consistency_error_metric() { return std::make_unique<ConsistencyErrorMetric>(); }

}  // namespace cmbench

// Training-target statistics (issue 16): how far a method's stochastic training target x_r (its
// target pass's input, Method::target_points) is from the exact PF-ODE point x_r* = ODE(x_t, t -> r)
// of the ground truth, at each probe's (x_t, t) and the method's own level r: the variance of its
// draws and their unbiased squared bias against x_r* (metrics/target_spread.h), per noise-level bucket
// (tvar_tB, tbias_tB) and averaged over the buckets (tvar, tbias). A method without target points
// (edm, cd) has no values: compute returns none and says so in details "not_applicable", and the
// suite runner stores no rows for it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "metrics/ground_truth_features.h"
#include "metrics/metric.h"
#include "metrics/target_spread.h"

namespace cmbench {

namespace {

class TargetStatisticsMetric final : public Metric {
 public:
  std::vector<MetricOutput> outputs() const override {
    std::vector<MetricOutput> out = {{.name = "tvar"}, {.name = "tbias"}};
    for (const auto& name : bucket_output_names("tvar")) out.push_back({.name = name});
    for (const auto& name : bucket_output_names("tbias")) out.push_back({.name = name});
    return out;
  }
  std::set<Feature> features() const override { return {Feature::target_estimates, Feature::ground_truth}; }
  int image_sets() const override { return 2; }

  MetricValues compute(const ImageSetFeatures& generated, const ImageSetFeatures* reference,
                       const MetricSettings&) const override {
    const auto& probes = reference_probes(reference);
    const auto& truth = generated.truth;
    if (!truth.target_r.defined()) return {{}, {{"not_applicable", "the method has no stochastic training target"}}};
    const int64_t probe_count = probes.t.size(0);
    const auto& x_r = truth.target_x_r;
    const bool shaped = x_r.defined() && x_r.dim() == 5 && x_r.size(0) == probe_count &&
                        x_r.sizes().slice(2).equals(probes.x_t.sizes().slice(1)) && truth.target_r.numel() == probe_count;
    if (!shaped) {
      throw InputError(fmt::format("{}: target estimates must be r (P,) and x_r (P, M, C, H, W) with P, C, H, W = [{}] as "
                                   "the probes of {}, found r of {} values and x_r [{}]",
                                   generated.name, fmt::join(probes.x_t.sizes(), ", "), reference->name,
                                   truth.target_r.numel(),
                                   x_r.defined() ? fmt::format("{}", fmt::join(x_r.sizes(), ", ")) : "none"));
    }
    const int64_t draws = x_r.size(1);
    if (draws < 2) throw InputError(fmt::format("{}: target statistics need at least 2 draws per probe, found {}", generated.name, draws));
    const auto exact = reference->mixture->solve_ode(probes.x_t, probes.t, truth.target_r.to(torch::kFloat64).reshape({-1}));
    const auto spread = target_spread(x_r, exact.x, probes.bucket, truth_bucket_count());
    MetricValues out;
    const auto put = [&](const std::string& prefix, const std::vector<double>& per_bucket, double mean) {
      const auto names = bucket_output_names(prefix);
      for (size_t b = 0; b < names.size(); ++b) out.values[names[b]] = per_bucket[b];
      out.values[prefix] = mean;
    };
    put("tvar", spread.variance, spread.mean_variance);
    put("tbias", spread.bias2, spread.mean_bias2);
    out.details = {{"ode_error_bound", exact.error_bound},
                   {"draws", draws},
                   {"probes", probe_count},
                   {"bucket_edges", truth_bucket_edges()},
                   {"reference_sha256", reference->mixture->fingerprint()}};
    return out;
  }

  std::string summary(const MetricValues& v) const override {
    if (v.values.empty()) return fmt::format("target statistics: not applicable ({})", v.details.value("not_applicable", ""));
    const auto buckets = [&](const std::string& prefix) {
      std::vector<std::string> out;
      for (const auto& name : bucket_output_names(prefix)) out.push_back(fmt::format("{:.4g}", v.values.at(name)));
      return fmt::format("{}", fmt::join(out, ", "));
    };
    return fmt::format("target variance {:.6g} (buckets {}), squared bias {:.6g} (buckets {}); ODE error bound {:.2g}",
                       v.values.at("tvar"), buckets("tvar"), v.values.at("tbias"), buckets("tbias"),
                       v.details.at("ode_error_bound").get<double>());
  }
};

}  // namespace

std::unique_ptr<Metric> make_target_statistics_metric() { return std::make_unique<TargetStatisticsMetric>(); }

}  // namespace cmbench

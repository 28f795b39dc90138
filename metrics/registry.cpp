#include "metrics/registry.h"

namespace cmbench {

std::unique_ptr<Metric> make_fid_metric();
std::unique_ptr<Metric> make_inception_score_metric();
std::unique_ptr<Metric> make_swd_metric();
std::unique_ptr<Metric> make_kid_metric();
std::unique_ptr<Metric> make_precision_recall_metric();

const MetricRegistry& metric_registry() {
  static const MetricRegistry registry = [] {
    MetricRegistry r("metric");
    r.add("fid", make_fid_metric, "Fréchet Inception distance (METRICS.md §3)");
    r.add("is", make_inception_score_metric, "Inception Score (METRICS.md §4)");
    r.add("swd", make_swd_metric, "sliced Wasserstein distance, weight-free (METRICS.md §5)");
    r.add("kid", make_kid_metric, "kernel Inception distance as torch-fidelity computes it");
    r.add("pr", make_precision_recall_metric, "improved precision and recall, k = 3 (guided-diffusion's evaluator)");
    return r;
  }();
  return registry;
}

std::string metric_of_output(const std::string& output) {
  for (const auto& name : metric_registry().names()) {
    for (const auto& o : metric_registry().create(name)->outputs()) {
      if (o.name == output) return name;
    }
  }
  return "";
}

std::vector<std::string> metric_output_names() {
  std::vector<std::string> out;
  for (const auto& name : metric_registry().names()) {
    for (const auto& o : metric_registry().create(name)->outputs()) out.push_back(o.name);
  }
  return out;
}

}  // namespace cmbench

#include "metrics/registry.h"

namespace cmbench {

std::unique_ptr<Metric> make_fid_metric();
std::unique_ptr<Metric> make_inception_score_metric();
std::unique_ptr<Metric> make_swd_metric();
std::unique_ptr<Metric> make_kid_metric();
std::unique_ptr<Metric> make_precision_recall_metric();
std::unique_ptr<Metric> make_sfid_metric();
std::unique_ptr<Metric> make_fd_dinov2_metric();
std::unique_ptr<Metric> make_pr50k3_metric();
std::unique_ptr<Metric> make_gt_fd_metric();
std::unique_ptr<Metric> make_gt_loglik_metric();
std::unique_ptr<Metric> make_consistency_error_metric();
std::unique_ptr<Metric> make_target_statistics_metric();

const MetricRegistry& metric_registry() {
  static const MetricRegistry registry = [] {
    MetricRegistry r("metric");
    r.add("fid", make_fid_metric, "Fréchet Inception distance (METRICS.md §3)");
    r.add("is", make_inception_score_metric, "Inception Score (METRICS.md §4)");
    r.add("swd", make_swd_metric, "sliced Wasserstein distance, weight-free (METRICS.md §5)");
    r.add("kid", make_kid_metric, "kernel Inception distance as torch-fidelity computes it");
    r.add("pr", make_precision_recall_metric, "improved precision and recall, k = 3 (guided-diffusion's evaluator)");
    r.add("sfid", make_sfid_metric, "spatial FID on Inception mixed_6/conv (guided-diffusion's evaluator)");
    r.add("pr50k3", make_pr50k3_metric, "improved precision and recall, k = 3, on VGG16 (StyleGAN's pr50k3)");
    r.add("fd_dinov2", make_fd_dinov2_metric, "Fréchet distance of DINOv2 ViT-L/14 features (EDM2's FD_DINOv2)");
    r.add("gt_fd", make_gt_fd_metric, "Fréchet distance to a gmm: ground truth's exact mean and covariance, pixel space");
    r.add("gt_loglik", make_gt_loglik_metric, "mean log-likelihood per dimension under a gmm: ground truth");
    r.add("consistency_error", make_consistency_error_metric,
          "E ||f_theta - f*||^2 / D at a gmm: ground truth's probes, per noise-level bucket");
    r.add("target_stats", make_target_statistics_metric,
          "variance and squared bias of the training target against the exact PF-ODE step, per bucket");
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

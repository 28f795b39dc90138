// cmbench consistency-error | gt-fd | gt-loglik: the ground-truth metrics of a gmm: source (issue 16)
// through the registry's metrics, as the suite runner computes them (harness/runner_evaluate.cpp).
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "app/cli.h"
#include "core/error.h"
#include "data/image_source.h"
#include "harness/network_answers.h"
#include "metrics/features.h"
#include "metrics/ground_truth_features.h"
#include "metrics/image_set_features.h"
#include "metrics/protocol.h"
#include "metrics/registry.h"

namespace cmbench::cli {

namespace {

void print_values(const Metric& metric, const MetricValues& values, nlohmann::json inputs, bool json) {
  if (json) {
    nlohmann::json out(values.values);
    out.update(values.details);
    out.update(inputs);
    print_json(out);
  } else {
    std::cout << metric.summary(values) << std::endl;
  }
}

struct ConsistencyErrorOptions {
  std::string ckpt, truth, ema, device = "auto";
  int64_t probes = MetricSettings{}.truth_probes, batch = 64;
  bool json = false;
};

void run_consistency_error(const ConsistencyErrorOptions& o) {
  const auto metric = metric_registry().create("consistency_error");
  const auto reference = ground_truth_features(o.truth, o.probes);
  ImageSetFeatures generated;
  generated.name = o.ckpt;
  generated.count = reference.count;
  generated.truth.consistency_outputs = consistency_outputs(o.ckpt, o.ema, *reference.probes, o.batch, o.device);
  generated.sources[Feature::consistency_outputs] = o.ckpt;
  MetricSettings settings;
  settings.truth_probes = o.probes;
  const auto values = evaluate_metric(*metric, generated, &reference, settings);
  print_values(*metric, values, {{"ckpt", o.ckpt}, {"truth", o.truth}, {"ema", o.ema}, {"n", reference.count}}, o.json);
}

struct ImageMetricOptions {
  std::string images, truth;
  bool json = false;
};

void run_image_metric(const std::string& name, const ImageMetricOptions& o) {
  const auto metric = metric_registry().create(name);
  const auto source = open_image_source(o.images);
  const auto generated = image_set_features(*source, select_indices(*source, 0, 0), generated_features(*metric),
                                            FeatureNetworks{}, 64);
  const auto reference = ground_truth_features(o.truth, 0);
  const auto values = evaluate_metric(*metric, generated, &reference, MetricSettings{});
  print_values(*metric, values, {{"inputs", {o.images, o.truth}}, {"n", generated.count}}, o.json);
}

void add_image_metric(CLI::App& app, const std::string& command, const std::string& metric, const std::string& what) {
  auto options = std::make_shared<ImageMetricOptions>();
  auto* sub = app.add_subcommand(command, what);
  sub->add_option("path", options->images, "generated images (any PATH kind)")->required();
  sub->add_option("truth", options->truth, "the ground truth: gmm:FILE.npz")->required();
  sub->add_flag("--json", options->json, "print one JSON object (key " + metric + ")");
  on_selected(sub, [options, metric] { run_image_metric(metric, *options); });
}

}  // namespace

void add_truth_metric_commands(CLI::App& app) {
  auto ce = std::make_shared<ConsistencyErrorOptions>();
  auto* consistency = app.add_subcommand(
      "consistency-error", "E ||f_theta(x_t, t) - f*(x_t, t)||^2 / D of a checkpoint at a gmm: ground truth's probes");
  consistency->add_option("--ckpt", ce->ckpt, "checkpoint")->required();
  consistency->add_option("--truth", ce->truth, "the ground truth: gmm:FILE.npz")->required();
  consistency->add_option("--ema", ce->ema, "weights group as cmbench sample names it (default ema, else model)");
  consistency->add_option("--probes", ce->probes, "probes per noise-level bucket (default 64)")->check(CLI::PositiveNumber);
  consistency->add_option("--batch", ce->batch, "probes per network call (default 64)")->check(CLI::PositiveNumber);
  consistency->add_option("--device", ce->device, "cpu, cuda, cuda:N or auto (default)");
  consistency->add_flag("--json", ce->json, "print one JSON object (keys cerr, cerr_t0 ... cerr_t5)");
  on_selected(consistency, [ce] { run_consistency_error(*ce); });

  add_image_metric(app, "gt-fd", "gt_fd", "Fréchet distance of images to a gmm: ground truth's exact mean and covariance");
  add_image_metric(app, "gt-loglik", "gt_loglik", "mean log-likelihood per dimension of images under a gmm: ground truth");
}

}  // namespace cmbench::cli

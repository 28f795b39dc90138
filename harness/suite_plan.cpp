#include "harness/suite_plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "harness/runner_evaluate.h"
#include "methods/sampler.h"
#include "nets/factory.h"
#include "metrics/image_set_features.h"
#include "metrics/protocol.h"
#include "metrics/registry.h"

namespace cmbench {

namespace {

std::string count(int64_t n) {
  const double v = static_cast<double>(n);
  if (n < 10000) return fmt::format("{}", n);
  if (n < 1000000) return fmt::format("{:.1f}k", v / 1e3);
  if (n < 1000000000) return fmt::format("{:.1f}M", v / 1e6);
  return fmt::format("{:.1f}G", v / 1e9);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

std::string number(double v) { return fmt::format("{}", v); }  // the shortest text that reads back as v

std::string describe_mode(const PrecondMode& mode) {
  return mode.form == PrecondForm::cm ? fmt::format("cm (eps_b {})", number(mode.eps_b)) : "edm";
}

// The preset and the keys that differ from it ("cifar10-ncsnpp (dropout 0)"), or every key of a
// network without a preset.
std::string describe_network(const nlohmann::json& net) {
  const std::string preset = net.value("preset", std::string());
  const nlohmann::json* defaults = nullptr;
  for (const auto& p : net_presets()) {
    if (p.name == preset) defaults = &p.config;
  }
  std::string rest;
  for (const auto& [key, value] : net.items()) {
    if (key == "preset" || (defaults && defaults->contains(key) && (*defaults)[key] == value)) continue;
    rest += (rest.empty() ? "" : ", ") + key + " " + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  if (preset.empty()) return rest.empty() ? "(custom)" : rest;
  return rest.empty() ? preset : preset + " (" + rest + ")";
}

std::string describe_ema(const EmaPlan& ema) {
  const auto& o = ema.options;
  switch (o.kind()) {
    case EmaKind::fixed: return fmt::format("{}: fixed beta {}", ema.name, number(o.beta()));
    case EmaKind::halflife:
      return fmt::format("{}: half-life {} images{}", ema.name, count(static_cast<int64_t>(o.halflife_images())),
                         o.rampup_ratio() > 0 ? fmt::format(", ramp-up {}", number(o.rampup_ratio())) : "");
    case EmaKind::power: return fmt::format("{}: power function, sigma_rel {}", ema.name, number(o.sigma_rel()));
  }
  return ema.name;
}

std::string describe_levels(const std::vector<double>& levels) {
  std::string out;
  for (const double v : levels) out += (out.empty() ? "" : ", ") + number(v);
  return "[" + out + "]";
}

// What a metric compares against ("vs statistics F") and the networks it runs ("; Inception W").
std::string describe_reference(const SuiteEvaluation& e, const Metric& metric) {
  std::string out;
  const auto features = metric.features();
  if (metric.image_sets() == 2) {
    const bool statistics = std::any_of(features.begin(), features.end(), is_statistics_feature) && !metric.equal_set_sizes();
    if (statistics && !e.reference_statistics.empty()) {
      out += " vs statistics " + e.reference_statistics;
    } else if (!e.reference_images.empty()) {
      out += metric.equal_set_sizes() ? fmt::format(" vs {} images of {}", e.num_samples, e.reference_images)
                                      : " vs images " + e.reference_images;
    }
  }
  if (needs_detector(features)) out += "; Inception " + e.weights;
  if (needs_dinov2(features)) out += "; DINOv2 " + e.dinov2_weights;
  if (needs_vgg16(features)) out += "; VGG16 " + e.vgg16;
  return out;
}

std::string describe_stage(const Suite& suite, const SuiteStage& s, const TrainPlan& plan) {
  const auto& e = s.evaluation;
  std::string out = fmt::format("stage {} ({}){}\n", s.name, s.method,
                                s.depends.empty() ? "" : ", after " + joined(s.depends));
  if (!s.description.empty()) out += fmt::format("  {}\n", s.description);
  const auto line = [&](const char* what, const std::string& text) { out += fmt::format("  {:<10} {}\n", what, text); };
  std::string options;
  const auto stage_options = s.options.to_json();
  for (const auto& [key, value] : stage_options.items()) {
    options += (options.empty() ? "" : ", ") + key + " " + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  if (!options.empty()) line("options", options);
  line("network", describe_network(plan.net));
  line("precond", fmt::format("train {}, eval {}; sigma_data {}, c_noise scale {}", describe_mode(plan.precond.train),
                              describe_mode(plan.precond.eval), number(plan.precond.sigma_data),
                              number(plan.precond.c_noise_scale)));
  line("data", fmt::format("{}{}, flips {}", plan.data.source,
                           plan.data.subset > 0 ? fmt::format(" (first {} images)", plan.data.subset) : "",
                           plan.data.flip ? "on" : "off"));
  line("budget", fmt::format("{} steps x batch {} = {} images{}{}", s.steps, s.batch, count(s.steps * s.batch),
                             s.init.empty() ? "" : ", from " + s.init, s.teacher.empty() ? "" : ", teacher " + s.teacher));
  std::string emas;
  for (const auto& ema : plan.emas) emas += (emas.empty() ? "" : "; ") + describe_ema(ema);
  line("EMA", emas.empty() ? "none (the trained weights)" : emas);
  std::string evaluated = e.ema.empty() ? "every profile" : joined(e.ema);
  for (const double v : e.posthoc_sigma_rel) evaluated += fmt::format(", post-hoc sigma_rel {}", number(v));
  line("evaluated", evaluated);
  const auto sampler = make_sampler(s.sampler);
  for (const int64_t nfe : e.nfe) {
    auto settings = sampler->settings_for_nfe(nfe, e.sigmas);
    settings.knobs = e.knobs_at(nfe);
    const auto planned = sampler->plan(settings, *plan.method);
    std::string text = fmt::format("NFE {}: {}", nfe, s.sampler);
    if (!planned.levels.empty()) {
      text += " levels " + describe_levels(planned.levels) + (planned.clamp ? "; x0 clamped to [-1, 1]" : "; x0 not clamped");
    } else {
      text += fmt::format(", {} steps", planned.steps);
    }
    auto others = e.knobs_at(nfe);
    others.clamp.reset();  // shown above, resolved against the method's default
    const auto knobs = describe_knobs(others, *plan.method);
    if (!knobs.empty()) text += "; " + knobs;
    line("sampler", text);
  }
  for (const auto& policy : suite.record.metrics) {
    const auto metric = metric_registry().create(metric_of_output(policy.metric));
    std::string layers;
    for (const auto feature : metric->features()) layers += (layers.empty() ? "" : ", ") + feature_layer(feature);
    line("metric", fmt::format("{} ({}, {} of {} seed set(s)){}", policy.metric, layers, policy.aggregate,
                               e.seed_sets.size(), describe_reference(e, *metric)));
  }
  bool published = false;
  for (const auto& r : suite.record.references) {
    if (r.method != s.method || (!r.stage.empty() && r.stage != s.name)) continue;
    if (r.stage.empty() && std::any_of(suite.record.references.begin(), suite.record.references.end(),
                                       [&](const results::ReferenceRow& o) { return o.stage == s.name && o.nfe == r.nfe; })) {
      continue;  // a row bound to this stage wins at its NFE
    }
    line("published", fmt::format("{} NFE {}: {} {} ({})", r.label, r.nfe, r.metric, number(r.value), r.citation));
    published = true;
  }
  if (!published) line("published", "none");
  return out;
}

}  // namespace

std::string describe_plan(const Suite& suite, const std::vector<TrainPlan>& plans, const std::string& out_dir) {
  const auto& e = suite.evaluation;
  std::string out = fmt::format("suite {} ({})\n", suite.name, suite.path);
  if (!suite.description.empty()) out += suite.description + "\n";
  out += fmt::format("dataset {}; network {}; output {}\n", suite.dataset(),
                     suite.base.has("net.preset") ? suite.base.get<std::string>("net.preset") : std::string("(custom)"),
                     out_dir);
  std::string metrics;
  for (const auto& m : suite.record.metrics) metrics += (metrics.empty() ? "" : ", ") + m.metric;
  out += fmt::format("evaluation: {} samples x {} seed set(s) per NFE; metrics {}\n\n", e.num_samples, e.seed_sets.size(),
                     metrics);
  // Sampled images and network evaluations count every evaluation point: the final one, with its
  // post-hoc profiles, and the metric curve's (runner_evaluate.h curve_steps).
  out += fmt::format("{:<3} {:<12} {:<6} {:<20} {:>10} {:>6} {:>12} {:<12} {:>6} {:>14} {:>12}\n", "#", "stage", "method",
                     "after", "steps", "batch", "train img", "NFE", "points", "sample img", "net evals");
  int64_t total_steps = 0, total_train = 0, total_samples = 0, total_evals = 0;
  for (size_t i = 0; i < suite.stages.size(); ++i) {
    const auto& s = suite.stages[i];
    const int64_t images = s.steps * s.batch;
    const auto& se = s.evaluation;
    const auto tracked = static_cast<int64_t>(evaluated_profiles(s, plans[i].emas).size());
    const auto curve_points = static_cast<int64_t>(curve_steps(s).size());
    const int64_t profiles = tracked + static_cast<int64_t>(se.posthoc_sigma_rel.size()) + curve_points * tracked;
    const int64_t samples = e.num_samples * static_cast<int64_t>(e.seed_sets.size()) *
                            static_cast<int64_t>(se.nfe.size()) * profiles;
    int64_t evals = 0;
    std::string nfes;
    for (const int64_t n : se.nfe) {
      evals += n * e.num_samples * static_cast<int64_t>(e.seed_sets.size()) * profiles;
      if (!nfes.empty()) nfes += ',';
      nfes += std::to_string(n);
    }
    out += fmt::format("{:<3} {:<12} {:<6} {:<20} {:>10} {:>6} {:>12} {:<12} {:>6} {:>14} {:>12}\n", i + 1, s.name, s.method,
                       joined(s.depends), s.steps, s.batch, count(images), nfes, 1 + curve_points, count(samples),
                       count(evals));
    total_steps += s.steps;
    total_train += images;
    total_samples += samples;
    total_evals += evals;
  }
  out += fmt::format("\ntotal: {} training steps, {} training images, {} generated samples, {} sampling network evaluations\n",
                     total_steps, count(total_train), count(total_samples), count(total_evals));
  if (!suite.record.references.empty()) {
    out += fmt::format("{} published reference row(s) stored beside the results\n", suite.record.references.size());
  }
  for (size_t i = 0; i < suite.stages.size(); ++i) {
    out += '\n';
    out += describe_stage(suite, suite.stages[i], plans[i]);
  }
  return out;
}

}  // namespace cmbench

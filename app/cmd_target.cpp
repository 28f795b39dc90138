// cmbench target-stats: the bias and variance of a method's training target per noise-level bucket,
// on a ground-truth mixture (exact posterior and PF-ODE) or on image data (its empirical
// distribution; harness/target_statistics.h), with SCT's reference-set size swept.
#include <fmt/format.h>

#include <iostream>

#include "app/cli.h"
#include "core/config.h"
#include "core/error.h"
#include "data/gmm_source.h"
#include "data/image_source.h"
#include "data/loader.h"
#include "harness/target_statistics.h"
#include "methods/registry.h"
#include "metrics/features.h"
#include "metrics/ground_truth_features.h"
#include "metrics/target_spread.h"

namespace cmbench::cli {

namespace {

struct TargetStatsOptions {
  std::string data, method = "sct";
  std::vector<std::string> sets;
  std::vector<int64_t> reference_sizes;
  int64_t batch = 32, step = 0, total_steps = 0, probes = 64, draws = 32, images = 0, seed = 0;
  bool json = false;
};

// One measured configuration: the method's resolved options and its spread per bucket.
struct Measured {
  std::string label;
  nlohmann::json options;
  std::vector<double> r_over_t;  // per bucket, mean r / t
  TargetSpread spread;
};

// The method of the options, with SCT's reference set sized `size` (0: as configured): the batch
// itself at size == batch, else a pool of `size` images.
std::unique_ptr<Method> method_for(const TargetStatsOptions& o, int64_t size) {
  auto config = Config::from_string("", "target-stats");
  config.put("method.name", o.method);
  config.set_all(o.sets);
  if (size > 0) {
    if (size < o.batch) throw InputError(fmt::format("--reference-sizes: {} is below the batch ({})", size, o.batch));
    config.put("method.reference_set", std::string(size == o.batch ? "batch" : "pool"));
    if (size > o.batch) config.put("method.pool_size", size);
  }
  return make_method(config.sub("method"));
}

Measured measure(const TargetStatsOptions& o, int64_t size, const GaussianMixture* mixture, const TruthProbes* truth,
                 const torch::Tensor& images, ImageProbes* image_probes) {
  const auto method = method_for(o, size);
  StepContext ctx;
  ctx.step = o.step;
  ctx.total_steps = o.total_steps > 0 ? o.total_steps : std::max<int64_t>(o.step, 1);
  ctx.global_batch = o.batch;
  ctx.generator = torch::make_generator<torch::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  Measured m;
  m.label = size > 0 ? fmt::format("{} (reference set {})", o.method, size) : o.method;
  m.options = method->resolved();
  TruthAnswers answers;
  torch::Tensor reference, t, bucket;
  if (mixture) {
    answers = ground_truth_target_estimates(*method, *mixture, *truth, o.batch, o.draws, ctx);
    t = truth->t;
    bucket = truth->bucket;
    if (answers.target_r.defined()) reference = mixture->solve_ode(truth->x_t, t, answers.target_r).x;
  } else {
    answers = empirical_target_estimates(*method, images, *image_probes, o.batch, o.draws, ctx);
    t = image_probes->t;
    bucket = image_probes->bucket;
    reference = image_probes->reference;
  }
  if (!answers.target_r.defined())
    throw InputError(fmt::format("--method {}: has no stochastic target point to measure (edm, cd)", o.method));
  m.r_over_t = bucket_means(answers.target_r / t, bucket);
  m.spread = target_spread(answers.target_x_r, reference, bucket, truth_bucket_count());
  return m;
}

void print_table(const std::vector<Measured>& rows, const std::string& data, bool exact) {
  const auto& edges = truth_bucket_edges();
  std::cout << fmt::format("target statistics on {} ({}), per dimension\n\n", data,
                           exact ? "exact posterior and PF-ODE" : "empirical posterior; reference: its Euler step");
  std::string head = "| t bucket |", rule = "|---|";
  for (const auto& r : rows) {
    head += fmt::format(" {} var | {} bias^2 |", r.label, r.label);
    rule += "---:|---:|";
  }
  std::cout << head << "\n" << rule << "\n";
  for (int64_t b = 0; b < truth_bucket_count(); ++b) {
    std::string line = fmt::format("| {:g}-{:g} |", edges[static_cast<size_t>(b)], edges[static_cast<size_t>(b) + 1]);
    for (const auto& r : rows) line += fmt::format(" {:.4g} | {:.3g} |", r.spread.variance[b], r.spread.bias2[b]);
    std::cout << line << "\n";
  }
}

}  // namespace

void add_target_commands(CLI::App& app) {
  auto o = std::make_shared<TargetStatsOptions>();
  auto* cmd = app.add_subcommand("target-stats", "bias and variance of a method's training target per noise level");
  cmd->add_option("--data", o->data, "gmm:FILE.npz (exact) or image data (its empirical distribution)")->required();
  cmd->add_option("--method", o->method, "ect, sct, ct or ict (default sct)");
  cmd->add_option("--set", o->sets, "method option method.KEY=VALUE (repeatable)");
  cmd->add_option("--batch", o->batch, "global batch (default 32)")->check(CLI::PositiveNumber);
  cmd->add_option("--reference-sizes", o->reference_sizes,
                  "SCT reference-set sizes to sweep (the batch, then pools), e.g. 32,256,1024,4096")
      ->delimiter(',');
  cmd->add_option("--step", o->step, "training step whose schedule (ECT stage, CT grid) is measured (default 0)");
  cmd->add_option("--total-steps", o->total_steps, "the run's length for schedules that read it");
  cmd->add_option("--probes", o->probes, "probes per bucket (default 64)")->check(CLI::PositiveNumber);
  cmd->add_option("--draws", o->draws, "target draws per probe (default 32)")->check(CLI::Range(2, 100000));
  cmd->add_option("--images", o->images, "image data: the first N images form the empirical distribution (default all)");
  cmd->add_option("--seed", o->seed, "probe seed (default 0)");
  cmd->add_flag("--json", o->json, "one JSON object on stdout");
  on_selected(cmd, [o] {
    const auto mixture = ground_truth_of(o->data);
    std::optional<TruthProbes> truth;
    torch::Tensor images;
    std::optional<ImageProbes> image_probes;
    if (mixture) {
      truth = make_truth_probes(*mixture, o->probes, static_cast<uint64_t>(o->seed));
    } else {
      const auto source = open_image_source(o->data);
      const int64_t count = o->images > 0 ? std::min(o->images, source->size()) : source->size();
      images = to_network_range(source->read(0, count)).to(torch::kFloat64);
      image_probes = make_image_probes(images, o->probes, static_cast<uint64_t>(o->seed));
    }
    std::vector<int64_t> sizes = o->reference_sizes.empty() ? std::vector<int64_t>{0} : o->reference_sizes;
    std::vector<Measured> rows;
    for (const auto size : sizes) {
      rows.push_back(measure(*o, size, mixture.get(), truth ? &*truth : nullptr, images,
                             image_probes ? &*image_probes : nullptr));
    }
    if (!o->json) {
      print_table(rows, o->data, mixture != nullptr);
      return;
    }
    nlohmann::json out = {{"data", o->data}, {"exact", mixture != nullptr}, {"bucket_edges", truth_bucket_edges()},
                          {"batch", o->batch}, {"step", o->step}, {"draws", o->draws}, {"probes_per_bucket", o->probes}};
    if (truth) out["ode_error_bound"] = truth->error_bound;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : rows) {
      list.push_back({{"label", r.label}, {"options", r.options}, {"tvar", r.spread.variance}, {"tbias", r.spread.bias2},
                      {"tvar_mean", r.spread.mean_variance}, {"tbias_mean", r.spread.mean_bias2}, {"r_over_t", r.r_over_t}});
    }
    out["targets"] = list;
    print_json(out);
  });
}

}  // namespace cmbench::cli

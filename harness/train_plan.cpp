#include "harness/train_plan.h"

#include <algorithm>

#include "core/config_reader.h"
#include "core/error.h"
#include "methods/registry.h"
#include "nets/factory.h"

namespace cmbench {

namespace {

DataPlan read_data_plan(ConfigReader data) {
  DataPlan d;
  d.source = data.required<std::string>("source");
  d.flip = data.get<bool>("flip", d.flip);
  d.subset = data.get<int64_t>("subset", d.subset);
  d.mean = data.get<double>("mean", d.mean);
  d.std = data.get<double>("std", d.std);
  d.channels = data.get<int64_t>("channels", d.channels);
  d.resolution = data.get<int64_t>("resolution", d.resolution);
  data.finish();
  return d;
}

// [ema.<id>]: the profile's name defaults to the id (a `name` key allows dots, e.g. "phema-0.050",
// that TOML keys here cannot hold). Without an `ema` table, one fixed-beta profile named "ema".
std::vector<EmaPlan> read_ema_plans(const Config& config) {
  if (!config.has("ema")) return {EmaPlan{"ema", EmaOptions()}};
  std::vector<EmaPlan> out;
  const auto table = config.sub("ema");
  for (const auto& id : table.keys()) {
    ConfigReader p(table.sub(id), "ema." + id);
    EmaPlan plan{p.get<std::string>("name", id), EmaOptions()};
    auto& o = plan.options;
    o.kind(parse_ema_kind(p.get<std::string>("kind", "fixed")))
        .beta(p.get<double>("beta", o.beta()))
        .halflife_images(p.get<double>("halflife_images", o.halflife_images()))
        .rampup_ratio(p.get<double>("rampup_ratio", o.rampup_ratio()))
        .sigma_rel(p.get<double>("sigma_rel", o.sigma_rel()));
    p.finish();
    out.push_back(std::move(plan));
  }
  return out;
}

}  // namespace

void TrainPlan::set_init(const std::string& checkpoint) {
  init = checkpoint;
  config.put("train.init", checkpoint);
}

void TrainPlan::set_teacher(const std::string& checkpoint) {
  teacher = checkpoint;
  config.put("train.teacher", checkpoint);
}

TrainPlan read_train_plan(const Config& config) {
  ConfigReader root(config, "");
  TrainPlan plan;
  plan.config = config;
  plan.seed = static_cast<uint64_t>(root.get<int64_t>("seed", 0));
  plan.device = root.get<std::string>("device", "auto");
  for (const char* table : {"method", "net", "precond", "data", "train", "ema"}) root.declare(table);
  root.finish();

  ConfigReader t(config.sub("train"), "train");
  plan.steps = t.required<int64_t>("steps");
  plan.batch = t.required<int64_t>("batch");
  if (plan.steps < 1 || plan.batch < 1) throw InputError(t.where() + ": train.steps and train.batch must be >= 1");
  plan.optimizer = t.choice("optimizer", "radam", {"adam", "radam"});
  plan.lr_schedule = read_lr_schedule(t);
  plan.adam.lr(plan.lr_schedule.base_lr)
      .beta1(t.get<double>("beta1", 0.9))
      .beta2(t.get<double>("beta2", 0.999))
      .eps(t.get<double>("eps", 1e-8))
      .weight_decay(t.get<double>("weight_decay", 0.0));
  plan.grad_clip = t.get<double>("grad_clip", 0.0);
  plan.checkpoint_every = t.get<int64_t>("checkpoint_every", 0);
  plan.log_every = std::max<int64_t>(t.get<int64_t>("log_every", 100), 1);
  plan.init = t.get<std::string>("init", "");
  plan.init_group = t.get<std::string>("init_group", "");
  plan.teacher = t.get<std::string>("teacher", "");
  plan.teacher_group = t.get<std::string>("teacher_group", "");
  plan.precision = t.choice("precision", "fp32", {"fp32", "bf16"});
  plan.channels_last = t.get<bool>("channels_last", false);
  plan.out = t.get<std::string>("out", "runs/train");
  t.finish();

  plan.data = read_data_plan(ConfigReader(config.sub("data"), "data"));
  plan.emas = read_ema_plans(config);
  plan.precond = parse_precond_config(config.has("precond") ? config.sub("precond") : Config());
  plan.method = make_method(config.sub("method"));
  if (plan.method->needs_teacher() && plan.teacher.empty())
    throw InputError(t.where() + ": method '" + plan.method->name() + "' needs train.teacher (a checkpoint)");
  plan.net = resolve_net_config(config.sub("net"));
  const auto arch = plan.net.value("arch", std::string());
  if (plan.method->resolved().value("weighting", std::string()) == "uncertainty" && arch != "edm2")
    throw InputError(config.sub("method").where("weighting") + ": method.weighting 'uncertainty' needs an EDM2 network "
                     "(net.arch '" + arch + "' has no uncertainty head)");
  return plan;
}

}  // namespace cmbench

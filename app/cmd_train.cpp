// cmbench train | sample

#include <fmt/format.h>

#include <optional>

#include "app/cli.h"
#include "app/launch.h"
#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/launch_env.h"
#include "core/process_group.h"
#include "harness/sample.h"
#include "harness/trainer.h"
#include "methods/sampler.h"

namespace cmbench::cli {

void add_train_commands(CLI::App& app) {
  struct TrainOptions {
    std::string config, out;
    std::vector<std::string> sets;
    bool resume = false;
  };
  auto t = std::make_shared<TrainOptions>();
  auto* train = app.add_subcommand("train", "train one method from a TOML config");
  train->add_option("--config", t->config, "method config (TOML)")->required();
  train->add_option("--set", t->sets, "override key=value (repeatable)");
  train->add_flag("--resume", t->resume, "continue from the last checkpoint in --out");
  train->add_option("--out", t->out, "output folder for checkpoints and the training log");
  on_selected(train, [t] {
    const auto env = read_launch_env();
    auto config = Config::from_file(t->config);
    config.set_all(t->sets);
    TrainRequest request;
    request.plan = read_train_plan(config);  // every rank reads (and checks) the config before meeting
    check_batch_splits(request.plan, env.world_size);
    if (env.distributed()) request.plan.device = device_for_rank(request.plan.device, env.local_rank);
    request.group = join_ranks(env);
    request.out = t->out;
    request.resume = t->resume;
    const bool root = request.group->is_root();
    const auto summary = cmbench::train(std::move(request));
    if (root) print_json(summary.to_json());
  });

  auto s = std::make_shared<SampleRequest>();
  auto sigmas = std::make_shared<std::string>(), seeds = std::make_shared<std::string>();
  auto* sample = app.add_subcommand("sample", "generate images from a checkpoint");
  sample->add_option("--ckpt", s->ckpt, "checkpoint (HDF5)")->required();
  sample->add_option("--num", s->num, "number of images")->required()->check(CLI::PositiveNumber);
  sample->add_option("--out", s->out, "PNG folder or .npz file")->required();
  sample->add_option("--steps", s->steps, "sampling steps (cm/ect: 1 or 2; heun: grid points, default 18)");
  sample->add_option("--sigmas", *sigmas, "intermediate noise levels a,b,... (descending)");
  sample->add_option("--sampler", s->sampler, sampler_registry().joined_names() + " (default: the checkpoint method's rule)")
      ->check(CLI::IsMember(sampler_registry().names()));
  sample->add_option("--device", s->device, "cpu, cuda, cuda:N or auto (default: CUDA when available)");
  sample->add_option("--ema", s->ema, "weights group (default ema, else model)");
  sample->add_option("--seeds", *seeds, "seed range A-B, one generator per image (default 0 to num-1)");
  sample->add_option("--noise", s->noise, "initial latents from FILE.npz (key noise)");
  sample->add_option("--labels", s->labels, "class labels from FILE.npz (key labels)");
  sample->add_option("--guidance", s->knobs.guidance, "classifier-free guidance weight (1 = none)")
      ->check(CLI::NonNegativeNumber);
  // EDM's stochastic Heun (Karras et al. 2022, Algorithm 2), heun sampler only.
  sample->add_option("--s-churn", s->knobs.s_churn, "heun: EDM's S_churn (default 0, deterministic)")
      ->check(CLI::NonNegativeNumber);
  sample->add_option("--s-min", s->knobs.s_min, "heun: churn only where t >= S_min (default 0)")
      ->check(CLI::NonNegativeNumber);
  sample->add_option("--s-max", s->knobs.s_max, "heun: churn only where t <= S_max (default inf)")
      ->check(CLI::NonNegativeNumber);
  sample->add_option("--s-noise", s->knobs.s_noise, "heun: EDM's S_noise (default 1)")->check(CLI::PositiveNumber);
  auto clamp = std::make_shared<std::optional<bool>>();
  sample->add_flag_function(
      "--clamp{true},--no-clamp{false}", [clamp](int64_t count) { *clamp = count > 0; },
      "cm/ect: clamp each x0 estimate to [-1, 1] (default: the method's rule, on for cd/ct/ict)");
  sample->add_option("--batch", s->batch, "batch size")->check(CLI::PositiveNumber);
  sample->add_flag("--raw", s->raw, "also store float32 outputs before quantization (npz key raw)");
  on_selected(sample, [s, sigmas, seeds, clamp] {
    const auto env = read_launch_env();
    s->knobs.clamp = *clamp;
    if (s->knobs.s_max < s->knobs.s_min)
      throw InputError(fmt::format("--s-max {} is below --s-min {}", s->knobs.s_max, s->knobs.s_min));
    s->sigmas = parse_sigma_list(*sigmas);
    if (!seeds->empty()) s->seeds = parse_seed_range(*seeds, "--seeds");
    if (env.distributed()) s->device = device_for_rank(s->device, env.local_rank);
    s->group = join_ranks(env);
    const auto summary = cmbench::sample(*s);
    if (s->group->is_root()) print_json(summary);
  });
}

}  // namespace cmbench::cli

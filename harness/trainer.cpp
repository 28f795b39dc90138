#include "harness/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/checkpoint.h"
#include "core/config_reader.h"
#include "core/device.h"
#include "core/ema.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/seed.h"
#include "core/torch_compat.h"
#include "data/image_source.h"
#include "data/loader.h"
#include "harness/lr_schedule.h"
#include "harness/networks.h"
#include "harness/optimizers.h"
#include "harness/run_folder.h"
#include "methods/registry.h"
#include "nets/checkpoint_io.h"

namespace cmbench {

namespace fs = std::filesystem;

nlohmann::json TrainSummary::to_json() const {
  return {{"start_step", start_step},   {"steps", steps},           {"images_seen", images_seen},
          {"parameters", parameters},   {"final_loss", final_loss}, {"images_per_second", images_per_second},
          {"checkpoint", checkpoint}};
}

namespace {

// The `data` table: a dataset (`source` spec, flip, subset) or, with source = "gaussian", synthetic
// isotropic Gaussian data (mean, std, channels, resolution) drawn from stream "data.gaussian"/step.
struct DataPlan {
  std::string source;
  bool flip = false;
  int64_t subset = 0;
  double mean = 0.0, std = 0.5;
  int64_t channels = 2, resolution = 1;
};

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

// Training images for each step, through the deterministic loader or drawn (DataPlan).
class BatchSource {
 public:
  BatchSource(const DataPlan& data, uint64_t seed, int64_t batch, int64_t start_step, const torch::Device& device)
      : seed_(seed), batch_(batch), device_(device) {
    if (data.source == "gaussian") {
      mean_ = data.mean;
      std_ = data.std;
      shape_ = {data.channels, data.resolution, data.resolution};
      return;
    }
    source_ = std::shared_ptr<const ImageSource>(open_image_source(data.source));
    LoaderOptions o;
    o.batch_size = batch;
    o.seed = seed;
    o.flip = data.flip;
    o.subset = data.subset;
    loader_ = std::make_unique<DataLoader>(source_, o, start_step);
  }

  std::vector<int64_t> image_shape() const {
    if (!source_) return shape_;
    return {source_->channels(), source_->height(), source_->width()};
  }

  // Images (float32, [-1, 1]) and int64 labels (undefined without labels) of step `step`.
  std::pair<torch::Tensor, torch::Tensor> next(int64_t step) {
    if (!source_) return {gaussian(batch_, make_generator(seed_, "data.gaussian", static_cast<uint64_t>(step))), {}};
    auto b = loader_->next();
    if (b.step != step) throw std::logic_error("data loader out of step");
    return {b.images.to(device_), b.labels.defined() ? b.labels.to(device_) : b.labels};
  }

  // `count` further images drawn uniformly (with replacement) from stream "method.pool"/step.
  std::pair<torch::Tensor, torch::Tensor> pool(int64_t step, int64_t count) {
    auto g = make_generator(seed_, "method.pool", static_cast<uint64_t>(step));
    if (!source_) return {gaussian(count, g), {}};
    const auto picks = torch::randint(0, static_cast<int64_t>(loader_->pool().size()), {count}, g, torch::kInt64);
    std::vector<int64_t> indices;
    for (int64_t i = 0; i < count; ++i) indices.push_back(loader_->pool()[static_cast<size_t>(picks[i].item<int64_t>())]);
    const auto images = to_network_range(source_->read_indices(indices));
    torch::Tensor labels;
    if (source_->has_labels()) labels = source_->labels().index_select(0, torch::tensor(indices, torch::kInt64));
    return {images.to(device_), labels.defined() ? labels.to(device_) : labels};
  }

 private:
  torch::Tensor gaussian(int64_t n, torch::Generator g) const {
    std::vector<int64_t> shape{n};
    shape.insert(shape.end(), shape_.begin(), shape_.end());
    return (mean_ + std_ * torch::randn(shape, g, torch::kFloat32)).to(device_);
  }

  uint64_t seed_;
  int64_t batch_;
  torch::Device device_;
  std::shared_ptr<const ImageSource> source_;
  std::unique_ptr<DataLoader> loader_;
  double mean_ = 0, std_ = 0.5;
  std::vector<int64_t> shape_;
};

std::vector<std::pair<std::string, EmaOptions>> ema_profiles(const Config& config) {
  std::vector<std::pair<std::string, EmaOptions>> out;
  if (!config.has("ema")) {
    out.emplace_back("ema", EmaOptions());
    return out;
  }
  const auto table = config.sub("ema");
  // [ema.<id>]: the profile's checkpoint group is /ema for id "ema", else /ema.<name> with `name`
  // defaulting to the id (a `name` key allows dots, e.g. "phema-0.050", that TOML keys here cannot hold).
  for (const auto& id : table.keys()) {
    ConfigReader p(table.sub(id), "ema." + id);
    const auto name = p.get<std::string>("name", id);
    EmaOptions o;
    o.kind(parse_ema_kind(p.get<std::string>("kind", "fixed")))
        .beta(p.get<double>("beta", o.beta()))
        .halflife_images(p.get<double>("halflife_images", o.halflife_images()))
        .rampup_ratio(p.get<double>("rampup_ratio", o.rampup_ratio()))
        .sigma_rel(p.get<double>("sigma_rel", o.sigma_rel()));
    p.finish();
    out.emplace_back(name, o);
  }
  return out;
}

std::string ema_group(const std::string& name) { return name == "ema" ? "ema" : "ema." + name; }

torch::Tensor one_hot_labels(const torch::Tensor& labels, int64_t label_dim) {
  if (label_dim <= 0 || !labels.defined()) return {};
  return torch::one_hot(labels.to(torch::kInt64), label_dim).to(torch::kFloat32);
}

// A trainer config read once into typed values: every key checked, every default in one place.
struct TrainPlan {
  uint64_t seed = 0;
  std::string device;
  std::unique_ptr<Method> method;
  nlohmann::json net;
  PrecondConfig precond;
  DataPlan data;
  std::vector<std::pair<std::string, EmaOptions>> emas;
  int64_t steps = 0, batch = 0;
  std::string optimizer;
  AdamOptions adam;
  LrSchedule lr_schedule;
  double grad_clip = 0.0;
  std::string precision;
  bool channels_last = false;
  int64_t checkpoint_every = 0, log_every = 100;
  std::string init, init_group, teacher, teacher_group, out;
};

TrainPlan plan_training(const Config& config) {
  ConfigReader root(config, "");
  TrainPlan plan;
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
  plan.emas = ema_profiles(config);
  plan.precond = parse_precond_config(config.has("precond") ? config.sub("precond") : Config());
  plan.method = make_method(config.sub("method"));
  if (plan.method->needs_teacher() && plan.teacher.empty())
    throw InputError(t.where() + ": method '" + plan.method->name() + "' needs train.teacher (a checkpoint)");
  plan.net = resolve_network_config(config.sub("net"));
  const auto arch = plan.net.value("arch", std::string());
  if (plan.method->resolved().value("weighting", std::string()) == "uncertainty" && arch != "edm2")
    throw InputError(config.sub("method").where("weighting") + ": method.weighting 'uncertainty' needs an EDM2 network "
                     "(net.arch '" + arch + "' has no uncertainty head)");
  return plan;
}

}  // namespace

void validate_train_config(const Config& config) { plan_training(config); }

TrainSummary train(const TrainRequest& request) {
  const Config& config = request.config;
  const auto plan = plan_training(config);
  const auto& method = plan.method;

  const uint64_t seed = plan.seed;
  const auto device = resolve_device(plan.device);
  const int64_t total_steps = plan.steps;
  const int64_t batch_size = plan.batch;
  const auto& precision = plan.precision;
  const int64_t checkpoint_every = plan.checkpoint_every;
  const int64_t log_every = plan.log_every;
  const double grad_clip = plan.grad_clip;
  const auto out = request.out.empty() ? plan.out : request.out;
  const RunFolder folder(out);

  const auto& lr_schedule = plan.lr_schedule;

  Networks nets;
  nets.student = build_network(plan.net, plan.precond, seed);
  nets.student->to(device);
  const bool channels_last = plan.channels_last;
  if (channels_last) nets.student->set_channels_last(true);
  const auto& init = plan.init;
  if (!init.empty()) {
    const auto chosen = plan.init_group.empty() ? default_weights_group(checkpoint_groups(init), init) : plan.init_group;
    load_weights(*nets.student, read_checkpoint(init, {chosen}), chosen, /*strict=*/true, init);
  }
  if (method->needs_teacher()) {
    nets.teacher = load_checkpoint_network(plan.teacher, plan.teacher_group);
    nets.teacher->to(device);
    if (channels_last) nets.teacher->set_channels_last(true);
    nets.teacher->eval();
  }
  if (method->needs_target_copy()) nets.target = clone_for_training(*nets.student);
  nets.student->train();
  if (nets.target) nets.target->train();

  const auto params = nets.student->parameters();
  auto optimizer = make_optimizer(plan.optimizer, params, plan.adam);
  std::vector<Ema> emas;
  for (const auto& [name, options] : plan.emas) emas.emplace_back(name, options, nets.student->state());

  // The resolved config, stored in every checkpoint.
  auto resolved = config.to_json();
  resolved["method"] = method->resolved();
  resolved = network_config(*nets.student, resolved);

  fs::create_directories(out);
  int64_t start_step = 0;
  if (request.resume) {
    const auto path = folder.latest_checkpoint();
    if (path.empty()) throw InputError(out + ": --resume found no checkpoint (ckpt-*.h5)");
    const auto ckpt = read_checkpoint(path);
    load_weights(*nets.student, ckpt, "model", true, path);
    if (nets.target) load_weights(*nets.target, ckpt, "target", true, path);
    for (auto& ema : emas) load_named_tensors(ckpt.group(ema_group(ema.name())), ema.tensors(), true, path + ":/" + ema_group(ema.name()));
    optimizer->load_state(ckpt.group("optimizer"));
    start_step = ckpt.attributes.at("step").get<int64_t>();
  } else if (!folder.latest_checkpoint().empty()) {
    throw InputError(out + ": already holds checkpoints; pass --resume to continue or choose another --out");
  }

  // The training log: rows after the resumed step are dropped (they will be recomputed identically).
  TrainSummary summary;
  const auto log_path = folder.training_log();
  {
    std::vector<std::string> kept;
    if (request.resume && fs::exists(log_path)) {
      std::ifstream in(log_path);
      std::string line;
      std::getline(in, line);  // the header
      while (std::getline(in, line)) {
        auto point = parse_training_log_line(line, log_path);
        if (point.step > start_step) break;
        summary.curve.push_back(point);
        kept.push_back(line);
      }
    }
    std::ofstream log(log_path, std::ios::trunc);
    log << kTrainingLogHeader << "\n";
    for (const auto& line : kept) log << line << "\n";
  }
  std::ofstream log(log_path, std::ios::app);

  BatchSource data(plan.data, seed, batch_size, start_step, device);
  const int64_t label_dim = nets.student->label_dim();

  auto save = [&](int64_t step) {
    Checkpoint c;
    c.config = resolved;
    c.attributes["step"] = step;
    c.attributes["method"] = method->name();
    c.groups["model"] = nets.student->state();
    if (nets.target) c.groups["target"] = nets.target->state();
    for (const auto& ema : emas) c.groups[ema_group(ema.name())] = ema.tensors();
    c.groups["optimizer"] = optimizer->state();
    const auto path = folder.checkpoint(step);
    write_checkpoint(path, c);
    return path;
  };

  summary.start_step = start_step;
  summary.parameters = nets.student->parameter_count();
  ProgressBar bar("train " + method->name(), total_steps, "step");
  if (!request.progress) bar.set_output(stderr, false, 1e9);
  bar.set_done(start_step);
  const auto started = std::chrono::steady_clock::now();
  auto window_start = started;
  int64_t window_images = 0;
  for (int64_t step = start_step; step < total_steps; ++step) {
    auto [images, labels] = data.next(step);
    TrainingBatch batch{images, one_hot_labels(labels, label_dim), {}, {}};
    if (const int64_t extra = method->reference_pool_size(batch_size); extra > 0) {
      auto [pool_images, pool_labels] = data.pool(step, extra);
      batch.reference_images = pool_images;
      batch.reference_labels = one_hot_labels(pool_labels, label_dim);
    }
    StepContext ctx;
    ctx.step = step;
    ctx.total_steps = total_steps;
    ctx.generator = make_generator(seed, "method.draw", static_cast<uint64_t>(step));
    default_generator(device).set_current_seed(derive_seed(seed, "dropout", static_cast<uint64_t>(step)));

    // bf16: the forward passes (student, target, teacher) under autocast, the backward outside it.
    std::optional<compat::AutocastGuard> autocast;
    if (precision == "bf16") autocast.emplace(device.type(), torch::kBFloat16);
    const auto result = method->step_loss(batch, ctx, nets);
    autocast.reset();
    const auto loss = precision == "bf16" ? result.per_sample.mean().to(torch::kFloat32) : result.per_sample.mean();
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value)) {
      const auto last = folder.latest_checkpoint();
      throw CheckError("train: loss is " + std::to_string(loss_value) + " at step " + std::to_string(step) +
                       "; stopped, last good checkpoint: " + (last.empty() ? "none" : last));
    }
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    loss.backward();
    const double grad_norm = sanitize_and_clip_gradients(params, grad_clip);
    optimizer->set_lr(lr_schedule.lr(step, step * batch_size));
    optimizer->step();

    const double mu = method->target_rate(step, total_steps);
    if (nets.target) {
      torch::NoGradGuard no_grad;
      const auto student = nets.student->state();
      auto target = nets.target->state();
      for (size_t i = 0; i < target.size(); ++i) target[i].second.copy_(student[i].second.detach().lerp(target[i].second, mu));
    }
    const auto state = nets.student->state();
    for (auto& ema : emas) ema.update(state, step * batch_size, batch_size);

    window_images += batch_size;
    const int64_t done = step + 1;
    summary.final_loss = loss_value;
    if (done % log_every == 0 || done == total_steps) {
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - window_start).count();
      const double rate = seconds > 0 ? window_images / seconds : 0.0;
      const auto line = training_log_line({done, loss_value, grad_norm, optimizer->lr(), rate});
      log << line << "\n" << std::flush;
      summary.curve.push_back(parse_training_log_line(line, log_path));
      window_start = now;
      window_images = 0;
    }
    char status[96];
    std::snprintf(status, sizeof(status), "loss %.4g", loss_value);
    bar.set_status(status);
    bar.set_done(done);
    if ((checkpoint_every > 0 && done % checkpoint_every == 0) || done == total_steps) summary.checkpoint = save(done);
  }
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  summary.steps = total_steps;
  summary.images_seen = total_steps * batch_size;
  summary.images_per_second = seconds > 0 ? (total_steps - start_step) * batch_size / seconds : 0.0;
  if (summary.checkpoint.empty()) summary.checkpoint = folder.latest_checkpoint();
  return summary;
}

}  // namespace cmbench

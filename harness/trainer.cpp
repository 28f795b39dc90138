#include "harness/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/checkpoint.h"
#include "core/device.h"
#include "core/ema.h"
#include "core/error.h"
#include "core/process_group.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/seed.h"
#include "core/torch_compat.h"
#include "data/image_source.h"
#include "data/loader.h"
#include "harness/optimizers.h"
#include "harness/run_folder.h"
#include "nets/checkpoint_io.h"
#include "nets/factory.h"

namespace cmbench {

namespace fs = std::filesystem;

nlohmann::json TrainSummary::to_json() const {
  return {{"start_step", start_step},   {"steps", steps},           {"images_seen", images_seen},
          {"parameters", parameters},   {"final_loss", final_loss}, {"images_per_second", images_per_second},
          {"checkpoint", checkpoint}};
}

namespace {

// One step's share of the training batch: this rank's rows and the whole batch's labels.
struct StepImages {
  torch::Tensor images, labels;  // the rank's rows [shard_begin, shard_end) of the global batch
  torch::Tensor batch_labels;    // int64 labels of the whole global batch (undefined without labels)
};

// Training images for each step, through the deterministic loader or drawn (DataPlan). A data-parallel
// rank decodes only its rows [shard_begin, shard_end) of the global batch of `batch` images.
class BatchSource {
 public:
  BatchSource(const DataPlan& data, uint64_t seed, int64_t batch, int64_t shard_begin, int64_t shard_end,
              int64_t start_step, const torch::Device& device)
      : seed_(seed), batch_(batch), shard_begin_(shard_begin), shard_end_(shard_end), flip_(data.flip), device_(device) {
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
    if (shard_end - shard_begin < batch) {
      o.shard_begin = shard_begin;
      o.shard_end = shard_end;
    }
    loader_ = std::make_unique<DataLoader>(source_, o, start_step);
  }

  std::vector<int64_t> image_shape() const {
    if (!source_) return shape_;
    return {source_->channels(), source_->height(), source_->width()};
  }

  // Images (float32, [-1, 1]) and int64 labels (undefined without labels) of step `step`.
  StepImages next(int64_t step) {
    if (!source_) {
      auto all = gaussian(batch_, make_generator(seed_, "data.gaussian", static_cast<uint64_t>(step)));
      return {shard_end_ - shard_begin_ < batch_ ? all.narrow(0, shard_begin_, shard_end_ - shard_begin_) : all, {}, {}};
    }
    auto b = loader_->next();
    if (b.step != step) throw std::logic_error("data loader out of step");
    auto to_device = [&](const torch::Tensor& t) { return t.defined() ? t.to(device_) : t; };
    return {to_device(b.images), to_device(b.labels), to_device(b.batch_labels)};
  }

  // `count` further images drawn uniformly (with replacement) from stream "method.pool"/step, each
  // mirrored left-right with probability 1/2 when the data flips (as the loader's batches).
  std::pair<torch::Tensor, torch::Tensor> pool(int64_t step, int64_t count) {
    auto g = make_generator(seed_, "method.pool", static_cast<uint64_t>(step));
    if (!source_) return {gaussian(count, g), {}};
    const auto picks = torch::randint(0, static_cast<int64_t>(loader_->pool().size()), {count}, g, torch::kInt64);
    std::vector<int64_t> indices;
    for (int64_t i = 0; i < count; ++i) indices.push_back(loader_->pool()[static_cast<size_t>(picks[i].item<int64_t>())]);
    auto raw = source_->read_indices(indices);  // uint8 (count, H, W, C)
    if (flip_) {
      const auto flips = torch::randint(0, 2, {count}, g, torch::kInt64).to(torch::kBool).view({-1, 1, 1, 1});
      raw = torch::where(flips, raw.flip({2}), raw);
    }
    const auto images = to_network_range(raw);
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
  int64_t batch_, shard_begin_, shard_end_;
  bool flip_ = false;
  torch::Device device_;
  std::shared_ptr<const ImageSource> source_;
  std::unique_ptr<DataLoader> loader_;
  double mean_ = 0, std_ = 0.5;
  std::vector<int64_t> shape_;
};

std::string ema_group(const std::string& name) { return name == "ema" ? "ema" : "ema." + name; }

torch::Tensor one_hot_labels(const torch::Tensor& labels, int64_t label_dim) {
  if (label_dim <= 0 || !labels.defined()) return {};
  return torch::one_hot(labels.to(torch::kInt64), label_dim).to(torch::kFloat32);
}

// The method's draws for the whole global batch of `global_batch` images (they read its shape and
// labels only), cut to this rank's rows: every draw is per image along dim 0, so image i of the
// global batch gets the same noise level and eps at any world size.
TensorMap draw_for_shard(const Method& method, const TrainingBatch& shard, const torch::Tensor& global_labels,
                         int64_t global_batch, int64_t shard_begin, const StepContext& ctx) {
  auto shape = shard.images.sizes().vec();
  shape[0] = global_batch;
  TrainingBatch whole{torch::zeros({1}, shard.images.options()).expand(shape), global_labels, {}, {}, {}, {}};
  auto draws = method.draw(whole, ctx);
  for (auto& [key, value] : draws) {
    if (value.dim() == 0 || value.size(0) != global_batch)
      throw std::logic_error("method " + method.name() + ": draw '" + key + "' is not one row per image");
    value = value.narrow(0, shard_begin, shard.images.size(0));
  }
  return draws;
}

}  // namespace

void check_batch_splits(const TrainPlan& plan, int64_t world_size) {
  if (plan.batch % world_size != 0)
    throw InputError("train.batch: " + std::to_string(plan.batch) + " images do not split evenly over " +
                     std::to_string(world_size) + " ranks; choose a multiple of the world size");
}

TrainSummary train(const TrainRequest& request) {
  const TrainPlan& plan = request.plan;
  const auto& method = plan.method;
  const auto group_handle = request.group ? request.group : single_process();
  ProcessGroup& group = *group_handle;
  const int64_t world = group.size(), rank = group.rank();
  const bool root = group.is_root();

  const uint64_t seed = plan.seed;
  const auto device = resolve_device(plan.device);
  const int64_t total_steps = plan.steps;
  if (request.stop_after < 0 || request.stop_after > total_steps)
    throw InputError("train: stop_after " + std::to_string(request.stop_after) + " is outside 0.." +
                     std::to_string(total_steps));
  const int64_t end_step = request.stop_after > 0 ? request.stop_after : total_steps;
  const int64_t batch_size = plan.batch;  // the global batch, split evenly over the ranks
  check_batch_splits(plan, world);
  method->prepare();
  const int64_t shard = batch_size / world, shard_begin = rank * shard;
  const auto& precision = plan.precision;
  const int64_t checkpoint_every = plan.checkpoint_every;
  const int64_t log_every = plan.log_every;
  const double grad_clip = plan.grad_clip;
  const auto out = request.out.empty() ? plan.out : request.out;
  const RunFolder folder(out);

  const auto& lr_schedule = plan.lr_schedule;

  Networks nets;
  NetworkOptions network_options;
  network_options.seed = seed;
  nets.student = make_network(plan.net, plan.precond, network_options);
  nets.student->to(device);
  const bool channels_last = plan.channels_last;
  if (channels_last) nets.student->set_channels_last(true);
  const auto& init = plan.init;
  if (!init.empty()) {
    const auto chosen = plan.init_group.empty() ? default_weights_group(checkpoint_groups(init), init) : plan.init_group;
    load_weights(*nets.student, read_checkpoint(init, {chosen}), chosen, /*strict=*/true, init);
  }
  if (method->needs_teacher()) {
    nets.teacher = load_network(plan.teacher, plan.teacher_group);
    nets.teacher->to(device);
    if (channels_last) nets.teacher->set_channels_last(true);
    nets.teacher->eval();
  }
  // Rank 0's initial weights on every rank (they are equal already when made from the seed or read
  // from one file; the broadcast makes that a property instead of an assumption).
  if (world > 1) {
    std::vector<torch::Tensor> initial;
    for (const auto& [name, tensor] : nets.student->state()) initial.push_back(tensor);
    broadcast_tensors(group, initial);
  }
  if (method->needs_target_copy()) nets.target = clone_network(*nets.student);
  nets.student->train();
  if (nets.target) nets.target->train();

  const auto params = nets.student->parameters();
  auto optimizer = make_optimizer(plan.optimizer, params, plan.adam);
  std::vector<Ema> emas;
  for (const auto& profile : plan.emas) emas.emplace_back(profile.name, profile.options, nets.student->state());

  // The resolved config, stored in every checkpoint.
  auto resolved = plan.config.to_json();
  resolved["method"] = method->resolved();
  resolved = network_config(*nets.student, resolved);

  if (root) fs::create_directories(out);
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
    if (start_step > end_step)
      throw InputError(path + ": resumes at step " + std::to_string(start_step) + ", past the requested stop at step " +
                       std::to_string(end_step));
  } else if (!folder.latest_checkpoint().empty()) {
    throw InputError(out + ": already holds checkpoints; pass --resume to continue or choose another --out");
  }

  // The training log: rows after the resumed step are dropped (they will be recomputed identically).
  TrainSummary summary;
  const auto log_path = folder.training_log();
  if (root) {
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
  std::ofstream log;
  if (root) log.open(log_path, std::ios::app);

  BatchSource data(plan.data, seed, batch_size, shard_begin, shard_begin + shard, start_step, device);
  const int64_t label_dim = nets.student->label_dim();

  auto save = [&](int64_t step) {
    Checkpoint c;
    c.config = resolved;
    c.attributes["step"] = step;
    c.attributes["method"] = method->name();
    c.attributes["world_size"] = world;
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
  if (!request.progress || !root) bar.set_output(stderr, false, 1e9);
  bar.set_done(start_step);
  const auto started = std::chrono::steady_clock::now();
  auto window_start = started;
  int64_t window_images = 0;
  for (int64_t step = start_step; step < end_step; ++step) {
    auto [images, labels, batch_labels] = data.next(step);
    TrainingBatch batch{images, one_hot_labels(labels, label_dim), {}, {}, {}, {}};
    // The whole global batch's labels (the draws are made for it; SCT's reference set may be it).
    const auto global_labels = world > 1 ? one_hot_labels(batch_labels, label_dim) : batch.labels;
    if (method->needs_global_batch()) {
      batch.global_images = all_gather_rows(group, images);
      batch.global_labels = global_labels;
    }
    if (const int64_t extra = method->reference_pool_size(batch_size); extra > 0) {
      auto [pool_images, pool_labels] = data.pool(step, extra);
      batch.reference_images = pool_images;
      batch.reference_labels = one_hot_labels(pool_labels, label_dim);
    }
    StepContext ctx;
    ctx.step = step;
    ctx.total_steps = total_steps;
    ctx.global_batch = batch_size;
    ctx.generator = make_generator(seed, "method.draw", static_cast<uint64_t>(step));
    // Dropout masks are the one draw per rank, not per global image: one stream per (step, rank).
    default_generator(device).set_current_seed(derive_seed(seed, "dropout", static_cast<uint64_t>(step * world + rank)));

    // bf16: the forward passes (student, target, teacher) under autocast, the backward outside it.
    std::optional<compat::AutocastGuard> autocast;
    if (precision == "bf16") autocast.emplace(device.type(), torch::kBFloat16);
    const auto draws = world > 1 ? draw_for_shard(*method, batch, global_labels, batch_size, shard_begin, ctx)
                                 : method->draw(batch, ctx);
    const auto result = method->loss(batch, draws, ctx, nets);
    autocast.reset();
    const auto loss = precision == "bf16" ? result.per_sample.mean().to(torch::kFloat32) : result.per_sample.mean();
    const double loss_value = mean_over_ranks(group, loss.item<double>());
    if (!std::isfinite(loss_value)) {
      const auto last = folder.latest_checkpoint();
      throw CheckError("train: loss is " + std::to_string(loss_value) + " at step " + std::to_string(step) +
                       "; stopped, last good checkpoint: " + (last.empty() ? "none" : last));
    }
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    loss.backward();
    average_gradients(group, params);  // the mean over ranks of per-rank means: the global batch's mean
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
    if (root && (done % log_every == 0 || done == total_steps)) {
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
    if ((checkpoint_every > 0 && done % checkpoint_every == 0) || done == end_step)
      summary.checkpoint = root ? save(done) : folder.checkpoint(done);
  }
  bar.finish();
  group.barrier();  // the last checkpoint exists for every rank (a suite's next stage reads it)
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  summary.steps = end_step;
  summary.images_seen = end_step * batch_size;
  summary.images_per_second = seconds > 0 ? (end_step - start_step) * batch_size / seconds : 0.0;
  if (summary.checkpoint.empty()) summary.checkpoint = folder.latest_checkpoint();
  return summary;
}

}  // namespace cmbench

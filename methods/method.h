// The Method interface: one training objective of METHODS.md. A method draws its randomness for a
// step (noise levels, grid indices, eps) and turns a batch, those draws and the networks into
// per-sample losses. Splitting the draw from the loss lets `cmbench selftest losses` feed the
// reference draws of vectors/losses.npz through the very code that trains.
//
//   auto method = make_method(config.sub("method"));                 // methods/registry.h
//   auto draws = method->draw(batch, ctx);
//   auto result = method->loss(batch, draws, ctx, nets);             // result.per_sample.mean()
//
// A new method is one file in methods/ (a Method subclass and its factory) plus one registry line.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "nets/denoiser.h"

namespace cmbench {

using TensorMap = std::map<std::string, torch::Tensor>;

struct TrainingBatch {
  torch::Tensor images;  // (N, C, H, W) in [-1, 1]
  torch::Tensor labels;  // (N, label_dim) one-hot, or undefined for unconditional models
  // Further reference images (SCT's pool), drawn by the training loop when reference_pool_size() > 0.
  torch::Tensor reference_images, reference_labels;
  // The step's whole batch over every data-parallel rank (all-gathered, in rank order) when the
  // method's needs_global_batch(); on one process the batch itself. Undefined otherwise.
  torch::Tensor global_images, global_labels;
};

struct Networks {
  DenoiserPtr student;  // trained, train mode
  DenoiserPtr target;   // CM target theta_minus (EMA of the student); null: the student itself
  DenoiserPtr teacher;  // CD's teacher, eval mode
  Denoiser& target_network() const { return target ? *target : *student; }
};

// draw() reads the batch's shape, options and labels, never its pixels: a data-parallel rank draws
// for the whole global batch (so the draws do not depend on the world size) and keeps its rows.
struct StepContext {
  int64_t step = 0;         // optimizer steps completed before this one
  int64_t total_steps = 1;  // the run's length (curricula that depend on it)
  int64_t global_batch = 0;  // images per optimizer step over all ranks (ECT's stage_images); 0: not given
  torch::Generator generator;  // this step's draws (levels, indices, eps, label dropout)
};

struct LossResult {
  torch::Tensor per_sample;  // (N,), weight included; the training loss is its mean
  TensorMap outputs;         // named intermediates (r, student, target, ...) for selftests and logs
};

class Method {
 public:
  virtual ~Method() = default;

  virtual std::string name() const = 0;
  virtual TensorMap draw(const TrainingBatch& batch, const StepContext& ctx) const = 0;
  virtual LossResult loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& ctx,
                          const Networks& nets) const = 0;
  LossResult step_loss(const TrainingBatch& batch, const StepContext& ctx, const Networks& nets) const {
    return loss(batch, draw(batch, ctx), ctx, nets);
  }

  // Networks the loop must provide, and how the target is updated after each optimizer step:
  // target = lerp(student, target, target_rate(step)).
  virtual bool needs_teacher() const { return false; }
  virtual bool needs_target_copy() const { return false; }
  virtual double target_rate(int64_t /*step*/, int64_t /*total_steps*/) const { return 0.0; }
  // Extra reference images per step beyond the batch (SCT's pool); 0 = none. `batch` is the global batch.
  virtual int64_t reference_pool_size(int64_t /*batch*/) const { return 0; }
  // Loads what the loss needs from disk (LPIPS weights) before the first step, so that a run stops
  // at its start, not hours in: InputError naming the file. Plans (`--dry-run`) never call it.
  virtual void prepare() const {}
  // Whether the loss reads batch.global_images (data-parallel runs all-gather them every step).
  virtual bool needs_global_batch() const { return false; }
  // The sampler (methods/sampler.h) that `cmbench sample` and suites use for this method.
  virtual std::string default_sampler() const = 0;
  // Whether the consistency samplers clamp each x0 estimate to [-1, 1] unless told otherwise: openai's
  // CD/CT/iCT sample with clip_denoised=True (consistency_models cm/karras_diffusion.py, karras_sample's
  // denoiser); ECT's generator_fn (locuslab/ect ct_eval.py) never clamps, nor does SCT, which samples as ECT.
  virtual bool clamps_denoised() const { return default_sampler() == "cm"; }
  // The levels a consistency sampler visits in `steps` steps when none are given: sigma_max = 80,
  // then for two steps the preset's midpoint, 0.821 (CIFAR-10) or 1.526 (ImageNet-64) as in ECT's
  // and openai's scripts; empty where the method has no default (3 or more steps).
  virtual std::vector<double> default_levels(int64_t steps) const {
    constexpr double sigma_max = 80.0;
    if (steps == 1) return {sigma_max};
    if (steps == 2) return {sigma_max, resolved_.value("preset", std::string("cifar10")) == "imagenet64" ? 1.526 : 0.821};
    return {};
  }

  // Analysis of the training target (target statistics, harness/target_statistics.h). For rows
  // x_t = x0 + t eps (x0, x_t: (N, C, H, W); t: (N,)) at training step ctx.step, the level r of the
  // target pass and the target point x_r the method would train towards, where `references`
  // (M, C, H, W), possibly empty, are the other clean images of the row's batch and pool (SCT's
  // reference set for row i is {x0_i} + references). nullopt for methods whose target is no
  // stochastic point estimate (edm has no target; cd's is the teacher's ODE step).
  struct TargetPoints {
    torch::Tensor r, x_r;
  };
  virtual std::optional<TargetPoints> target_points(const torch::Tensor& /*x0*/, const torch::Tensor& /*x_t*/,
                                                    const torch::Tensor& /*t*/, const torch::Tensor& /*references*/,
                                                    const StepContext& /*ctx*/) const {
    return std::nullopt;
  }
  // How many references target_points reads for a global batch of `batch` images: SCT's reference set
  // less the row's own image; 0 for the others.
  virtual int64_t target_reference_count(int64_t /*batch*/) const { return 0; }

  // Every option with its resolved value (stored in checkpoints and result stores).
  const nlohmann::json& resolved() const { return resolved_; }

 protected:
  nlohmann::json resolved_ = nlohmann::json::object();
};

}  // namespace cmbench

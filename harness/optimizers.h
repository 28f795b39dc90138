// Optimizers with PyTorch's exact update rules (METHODS.md §10): Adam as torch.optim.Adam and
// RAdam as torch.optim.RAdam (LibTorch has no RAdam), both PyTorch 1.13's single-tensor code path.
// Their state (step count and moments) is exposed by name for checkpoints and --resume.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cmbench {

struct AdamOptions {
  TORCH_ARG(double, lr) = 1e-3;
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 0.0;  // L2 added to the gradient, as PyTorch's Adam and RAdam
};

class Optimizer {
 public:
  Optimizer(std::vector<torch::Tensor> params, AdamOptions options);
  virtual ~Optimizer() = default;

  virtual std::string name() const = 0;
  // One update from the parameters' .grad() (parameters without a gradient are skipped).
  void step();

  void set_lr(double lr) { options_.lr(lr); }
  double lr() const { return options_.lr(); }
  int64_t steps() const { return steps_; }
  const AdamOptions& options() const { return options_; }

  // "step" (int64 scalar), "exp_avg.<i>", "exp_avg_sq.<i>" for parameter i; load_state copies back.
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state);

 protected:
  // One parameter's update after the moments have been advanced; `step` counts from 1.
  virtual void apply(torch::Tensor& param, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq,
                     int64_t step) = 0;

  AdamOptions options_;

 private:
  std::vector<torch::Tensor> params_, exp_avg_, exp_avg_sq_;
  int64_t steps_ = 0;
};

class Adam : public Optimizer {
 public:
  using Optimizer::Optimizer;
  std::string name() const override { return "adam"; }

 protected:
  void apply(torch::Tensor& param, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq,
             int64_t step) override;
};

class RAdam : public Optimizer {
 public:
  using Optimizer::Optimizer;
  std::string name() const override { return "radam"; }

 protected:
  void apply(torch::Tensor& param, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq,
             int64_t step) override;
};

// Gradient hygiene before a step: nan_to_num(nan = 0, +inf = 1e5, -inf = -1e5) on every gradient
// (EDM's training loop), then the total L2 norm over all gradients in float64; when max_norm > 0 and
// the norm exceeds it, every gradient is scaled by max_norm / (norm + 1e-6) (torch.nn.utils.
// clip_grad_norm_). Returns the norm before clipping.
double sanitize_and_clip_gradients(const std::vector<torch::Tensor>& params, double max_norm);

// "adam" | "radam"; InputError otherwise.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<torch::Tensor> params,
                                          const AdamOptions& options);

}  // namespace cmbench

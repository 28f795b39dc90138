// The network interface that methods and samplers use: a Denoiser computes D(x, sigma), the
// preconditioned estimate of the clean image (METHODS.md §1).
//
//   auto net = make_network(config.sub("net"), precond);          // nets/factory.h
//   net->train();  D = net->forward(x, sigma, class_labels);      // precond.train form, dropout on
//   net->eval();   D = net->forward(x, sigma, class_labels);      // precond.eval form, dropout off
//   D = net->denoise(x, sigma, labels, {}, net->precond().eval);  // explicit form, any module mode
//
// - x: (N, C, H, W) float32 or float64; sigma: (N,) or a single level (broadcast), any float dtype.
//   The result has x's dtype. Rows with sigma == 0 return x without evaluating the network there.
// - class_labels: (N, label_dim) one-hot (or soft / zero rows for unconditional guidance), or an
//   undefined tensor (zeros). augment_labels: (N, augment_dim) or undefined (zeros).
// - Trainable networks (SongUNet, DhariwalUNet, EDM2 UNet) are Modules: parameters() feeds the
//   optimizer; state() lists every tensor of the checkpoint under EDM's names, in PyTorch's
//   state-dict order (parameters and buffers), and is what core/checkpoint.h stores and loads.
// - Analytic denoisers (nets/analytic.h) implement the same interface with no parameters: the exact
//   posterior mean E[x0 | x0 + sigma * eps = x], independent of preconditioning and module mode.
// - config() is the resolved `net` object with EDM's keyword names; make_network(config(), precond())
//   rebuilds an identical architecture (EMA and target copies: clone_network in nets/factory.h).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint.h"
#include "nets/precond.h"

namespace cmbench {

class Denoiser : public torch::nn::Module {
 public:
  // D(x, sigma) with the preconditioning form of the module's mode (is_training()).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels = {},
                        const torch::Tensor& augment_labels = {});

  // D(x, sigma) with an explicit preconditioning form (e.g. ECT's target pass, eval form in train mode).
  virtual torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels,
                                const torch::Tensor& augment_labels, const PrecondMode& mode) = 0;

  // Every checkpoint tensor (parameters and buffers) under its EDM name, in state-dict order. The
  // tensors are the live ones: copying into them (under NoGradGuard) loads weights.
  virtual NamedTensors state() = 0;

  // Number of trainable parameters (buffers excluded), computed from shapes.
  int64_t parameter_count();

  // EDM2 only: forced weight normalization in train mode (on by default); a no-op elsewhere.
  virtual void set_forced_weight_norm(bool /*enabled*/) {}
  virtual bool forced_weight_norm() const { return false; }

  // Channels-last (NHWC) storage for every 4-D parameter and buffer and for the network input, so
  // that convolutions take their NHWC kernels (cuDNN tensor cores, oneDNN). Values, names and
  // outputs are unchanged; checkpoints are written contiguous (NCHW) either way.
  void set_channels_last(bool enabled);
  bool channels_last() const { return channels_last_; }

  // The learned log-variance u(sigma), (N, 1, 1, 1), of networks with an uncertainty head (EDM2's
  // Precond: logvar_linear(logvar_fourier(ln(sigma) / 4))); undefined for networks without one.
  virtual torch::Tensor uncertainty(const torch::Tensor& /*sigma*/) { return {}; }

  const nlohmann::json& config() const { return config_; }
  const PrecondConfig& precond() const { return precond_; }
  void set_precond(const PrecondConfig& precond) { precond_ = precond; }

  std::string arch() const { return config_.value("arch", std::string()); }
  int64_t img_resolution() const { return config_.value("img_resolution", int64_t{0}); }
  int64_t img_channels() const { return config_.value("in_channels", config_.value("img_channels", int64_t{0})); }
  int64_t label_dim() const { return config_.value("label_dim", int64_t{0}); }
  int64_t augment_dim() const { return config_.value("augment_dim", int64_t{0}); }

 protected:
  Denoiser(nlohmann::json config, PrecondConfig precond) : config_(std::move(config)), precond_(precond) {}

 private:
  nlohmann::json config_;
  PrecondConfig precond_;
  bool channels_last_ = false;
};

using DenoiserPtr = std::shared_ptr<Denoiser>;

// A trainable network F(c_in x, c_noise, class_labels, augment_labels) wrapped in preconditioning.
// Subclasses provide raw(); forward/denoise apply precondition() around it.
class PreconditionedNetwork : public Denoiser {
 public:
  torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels,
                        const torch::Tensor& augment_labels, const PrecondMode& mode) override;

  // F itself: scaled_x (N, C, H, W) in the network's dtype (float32), c_noise (N,).
  virtual torch::Tensor raw(const torch::Tensor& scaled_x, const torch::Tensor& c_noise,
                            const torch::Tensor& class_labels, const torch::Tensor& augment_labels) = 0;

 protected:
  using Denoiser::Denoiser;
};

// Parameters and buffers of `module` in PyTorch's state-dict order: each module's own parameters,
// then its own buffers, then its children in registration order; names joined with dots.
NamedTensors ordered_state(torch::nn::Module& module, const std::string& prefix = {});

// sigma as (N,) in `dtype`: a single level is broadcast to the batch; any other count is an InputError.
torch::Tensor broadcast_sigma(const torch::Tensor& sigma, int64_t batch, torch::Dtype dtype);

}  // namespace cmbench

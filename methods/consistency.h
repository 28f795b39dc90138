// Pieces shared by the consistency objectives (CD, CT, iCT, ECT, SCT): the paired student/target
// passes with replayed dropout masks, distances, and noise draws.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "core/config.h"
#include "methods/options.h"
#include "nets/denoiser.h"
#include "nets/lpips.h"

namespace cmbench {

// Student D(x_s, s) with gradients, then target D(x_t, t) under no-grad with the same dropout
// masks: the state of the default generator of the network's device (CUDA on GPU, not only the
// CPU one) is saved before the student pass and restored before the target pass (METHODS.md §4).
// The target network runs in its current (train) mode; its output passes through nan_to_num.
struct PairedOutputs {
  torch::Tensor student, target;
};
PairedOutputs paired_passes(Denoiser& student, Denoiser& target, const torch::Tensor& x_s, const torch::Tensor& s,
                            const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& labels);

// A target pass alone (no-grad, nan_to_num) after restoring `generator_state` on `device`.
torch::Tensor replayed_target_pass(Denoiser& target, const torch::Tensor& x_t, const torch::Tensor& t,
                                   const torch::Tensor& labels, const torch::Tensor& generator_state,
                                   const torch::Device& device);

// Per-image distances over all C*H*W elements, shape (N,).
torch::Tensor mean_squared_distance(const torch::Tensor& a, const torch::Tensor& b);
torch::Tensor mean_absolute_distance(const torch::Tensor& a, const torch::Tensor& b);
torch::Tensor squared_norm(const torch::Tensor& a);  // sum over C*H*W of a^2
// Pseudo-Huber on the whole image (iCT): sqrt(||a - b||^2 + c^2) - c.
torch::Tensor pseudo_huber_distance(const torch::Tensor& a, const torch::Tensor& b, double c);

// The closed-form CM distances by name: l2 and l1 average over elements; pseudo_huber uses the
// whole-image form with c = 0.00054 sqrt(C*H*W) unless `huber_c` > 0. (lpips needs its network:
// CmDistance.)
torch::Tensor cm_distance(const std::string& name, const torch::Tensor& a, const torch::Tensor& b, double huber_c);
double ict_huber_c(const torch::Tensor& images);  // 0.00054 * sqrt(C*H*W)

// The CD/CT distance of a method's options: `distance` (l2, l1, pseudo_huber with `huber_c`, or
// lpips). LPIPS (nets/lpips.h) reads `lpips_weights` (an .npz of scripts/convert-lpips-weights or
// synthetic:SEED; default $CMBENCH_LPIPS, and without either an error that says where to get them)
// and `lpips_protocol` ("openai-cm", the default: openai/consistency_models' resize to 224 and piq
// LPIPS; or "lpips": the lpips package as is). The network is loaded once, frozen (eval mode, no
// gradients to its weights), and follows the images to their device; gradients reach the inputs.
class CmDistance {
 public:
  CmDistance() = default;  // l2
  CmDistance(OptionReader& options, const Config& table);

  const std::string& name() const { return name_; }
  // Per-image distances (N,) of two batches of images in [-1, 1]. LPIPS loads its weights on first use
  // (or load()), so that a plan (`cmbench run --dry-run`) reads without them.
  torch::Tensor operator()(const torch::Tensor& a, const torch::Tensor& b) const;
  // Loads what the distance needs (LPIPS weights): InputError naming the file and where to get it.
  void load() const;

 private:
  std::string name_ = "l2";
  double huber_c_ = 0.0;
  std::string lpips_weights_;
  LpipsProtocol lpips_protocol_ = LpipsProtocol::openai_cm;
  mutable Lpips lpips_{nullptr};
  mutable torch::Device lpips_device_ = torch::kCPU;
};

// The one-sample estimate of the PF-ODE point at level r for x_t = x0 + t eps (CT, iCT, ECT):
// x0 + r eps = (r / t) x_t + (1 - r / t) x0.
torch::Tensor one_sample_point(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                               const torch::Tensor& r);
// For levels t (N,), the largest level of `grid` (any order) below each t, or t itself when none is
// (the level a discrete-grid method's target pass takes for a student at t: target statistics).
torch::Tensor grid_level_below(const torch::Tensor& grid, const torch::Tensor& t);

// (N,) -> (N, 1, 1, 1) for broadcasting against images.
torch::Tensor per_image(const torch::Tensor& v, const torch::Tensor& like);

// ln t ~ N(p_mean, p_std), shape (N,), in `like`'s dtype and device, from `generator`.
torch::Tensor draw_lognormal(int64_t n, double p_mean, double p_std, torch::Generator generator,
                             const torch::TensorOptions& options);
// Standard normal noise shaped like `x`.
torch::Tensor draw_normal_like(const torch::Tensor& x, torch::Generator generator);

// A continuous-level method's draws: `level_key` ~ lognormal(p_mean, p_std), "eps", and with
// label_dropout > 0 on a conditional batch, "labels" with rows dropped.
std::map<std::string, torch::Tensor> draw_level_and_noise(const torch::Tensor& images, const torch::Tensor& labels,
                                                          const std::string& level_key, double p_mean, double p_std,
                                                          double label_dropout, torch::Generator generator);

// Classifier-free guidance training: each row of one-hot labels becomes zero with probability p.
torch::Tensor drop_labels(const torch::Tensor& labels, double p, torch::Generator generator);

}  // namespace cmbench

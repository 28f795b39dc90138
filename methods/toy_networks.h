// The toy network of the loss selftest, behind the same Denoiser interface as the real U-Nets: the
// element-wise F(u, c) = tanh(a u + b c) of VECTORS.md (losses.npz), evaluated in the input's dtype
// (float64 for the 1e-9 selftest) with the configured preconditioning. (The small trainable MLP is
// arch "mlp" of the nets registry, nets/mlp.h.)
#pragma once

#include <torch/torch.h>

#include "nets/denoiser.h"

namespace cmbench {

class ToyDenoiser : public Denoiser {
 public:
  ToyDenoiser(double a, double b, PrecondConfig precond);
  torch::Tensor denoise(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels,
                        const torch::Tensor& augment_labels, const PrecondMode& mode) override;
  NamedTensors state() override { return ordered_state(*this); }

 private:
  torch::Tensor a_, b_;
};

}  // namespace cmbench

// Small networks for selftests, unit tests and CPU training runs, behind the same Denoiser
// interface as the real U-Nets:
// - ToyDenoiser: the element-wise F(u, c) = tanh(a u + b c) of VECTORS.md (losses.npz), evaluated in
//   the input's dtype (float64 for the 1e-9 selftest) with the configured preconditioning.
// - MlpDenoiser: an MLP on flattened images with a noise-level embedding and dropout, for 2-D /
//   tiny-image training tests (arch "mlp").
#pragma once

#include <torch/torch.h>

#include "core/config.h"
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

struct MlpOptions {
  TORCH_ARG(int64_t, img_channels) = 2;
  TORCH_ARG(int64_t, img_resolution) = 1;
  TORCH_ARG(int64_t, hidden) = 64;
  TORCH_ARG(int64_t, layers) = 2;       // hidden layers
  TORCH_ARG(int64_t, embedding) = 16;   // Fourier features of c_noise
  TORCH_ARG(int64_t, label_dim) = 0;
  TORCH_ARG(double, dropout) = 0.0;
};

class MlpDenoiser : public PreconditionedNetwork {
 public:
  MlpDenoiser(const MlpOptions& options, PrecondConfig precond);
  torch::Tensor raw(const torch::Tensor& scaled_x, const torch::Tensor& c_noise, const torch::Tensor& class_labels,
                    const torch::Tensor& augment_labels) override;
  NamedTensors state() override { return ordered_state(*this); }

 private:
  MlpOptions options_;
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::Linear output_{nullptr}, label_embed_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::Tensor frequencies_;
};

// arch "mlp" from a `net` table (img_channels, img_resolution, hidden, layers, embedding, label_dim,
// dropout), or from a checkpoint's net object.
std::shared_ptr<MlpDenoiser> make_mlp_denoiser(const nlohmann::json& net, PrecondConfig precond);

}  // namespace cmbench

// A small MLP denoiser (arch "mlp") on flattened images with a noise-level embedding and dropout,
// for 2-D / tiny-image training tests and toy problems. Unlike the U-Nets it initializes through
// LibTorch's default initializers, from the global generator seeded by the build (nets/factory.cpp).
#pragma once

#include <torch/torch.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "nets/denoiser.h"

namespace cmbench {

// The largest MLP built (1 GiB of float32 parameters): it is a network for tests and toy problems.
inline constexpr int64_t kMaxMlpParameters = int64_t{1} << 28;

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

// arch "mlp" from a resolved `net` object (img_channels, img_resolution, hidden, layers, embedding,
// label_dim, dropout); nets/factory.h builds it by name like every arch.
std::unique_ptr<MlpDenoiser> make_mlp_denoiser(const nlohmann::json& net, const PrecondConfig& precond);

}  // namespace cmbench

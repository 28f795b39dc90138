// EDM's unified U-Net block (NVlabs/edm training/networks.py, UNetBlock): GroupNorm-SiLU-conv twice
// with a noise-embedding affine in between, optional up/down resampling, a skip projection, and
// optional multi-head self-attention. Shared by SongUNet (DDPM++/NCSN++) and DhariwalUNet (ADM).
#pragma once

#include "nets/edm_layers.h"

namespace cmbench {

struct UNetBlockOptions {
  UNetBlockOptions(int64_t in_channels, int64_t out_channels, int64_t emb_channels)
      : in_channels_(in_channels), out_channels_(out_channels), emb_channels_(emb_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, emb_channels);
  TORCH_ARG(bool, up) = false;
  TORCH_ARG(bool, down) = false;
  TORCH_ARG(bool, attention) = false;
  TORCH_ARG(int64_t, num_heads) = 0;  // 0: out_channels / channels_per_head
  TORCH_ARG(int64_t, channels_per_head) = 64;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, skip_scale) = 1.0;
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double>{1, 1};
  TORCH_ARG(bool, resample_proj) = false;
  TORCH_ARG(bool, adaptive_scale) = true;
  // Initialization of the ordinary layers, the zero-initialized output layers, and qkv.
  TORCH_ARG(InitMode, init_mode) = InitMode::kaiming_normal;
  TORCH_ARG(double, init_weight) = 1.0;
  TORCH_ARG(double, init_bias) = 0.0;
  TORCH_ARG(double, init_zero_weight) = 0.0;
  TORCH_ARG(double, init_zero_bias) = 0.0;
  TORCH_ARG(double, init_attn_weight) = -1.0;  // < 0: same as init_weight
};

class UNetBlockImpl : public torch::nn::Module {
 public:
  explicit UNetBlockImpl(const UNetBlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);
  int64_t in_channels() const { return options_.in_channels(); }
  int64_t out_channels() const { return options_.out_channels(); }

 private:
  UNetBlockOptions options_;
  int64_t num_heads_;
  EdmGroupNorm norm0{nullptr}, norm1{nullptr}, norm2{nullptr};
  EdmConv2d conv0{nullptr}, conv1{nullptr}, skip{nullptr}, qkv{nullptr}, proj{nullptr};
  EdmLinear affine{nullptr};
};
TORCH_MODULE(UNetBlock);

}  // namespace cmbench

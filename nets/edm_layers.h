// EDM's building blocks (NVlabs/edm training/networks.py): Linear, Conv2d with up/down resampling,
// GroupNorm, and the positional and Fourier noise embeddings. Parameter and buffer names and their
// registration order equal the reference's, so state dicts correspond name by name.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "nets/init.h"

namespace cmbench {

struct EdmLinearOptions {
  EdmLinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(InitMode, init_mode) = InitMode::kaiming_normal;
  TORCH_ARG(double, init_weight) = 1.0;
  TORCH_ARG(double, init_bias) = 0.0;
};

class EdmLinearImpl : public torch::nn::Module {
 public:
  explicit EdmLinearImpl(const EdmLinearOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  const EdmLinearOptions& options() const { return options_; }
  torch::Tensor weight, bias;

 private:
  EdmLinearOptions options_;
};
TORCH_MODULE(EdmLinear);

struct EdmConv2dOptions {
  EdmConv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel);  // 0: no weight (a pure resampling layer)
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(bool, up) = false;
  TORCH_ARG(bool, down) = false;
  TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double>{1, 1};
  TORCH_ARG(bool, fused_resample) = false;
  TORCH_ARG(InitMode, init_mode) = InitMode::kaiming_normal;
  TORCH_ARG(double, init_weight) = 1.0;
  TORCH_ARG(double, init_bias) = 0.0;
};

class EdmConv2dImpl : public torch::nn::Module {
 public:
  explicit EdmConv2dImpl(const EdmConv2dOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  const EdmConv2dOptions& options() const { return options_; }
  torch::Tensor weight, bias, resample_filter;

 private:
  EdmConv2dOptions options_;
  bool box_ = false;
};
TORCH_MODULE(EdmConv2d);

struct EdmGroupNormOptions {
  explicit EdmGroupNormOptions(int64_t num_channels) : num_channels_(num_channels) {}
  TORCH_ARG(int64_t, num_channels);
  TORCH_ARG(int64_t, num_groups) = 32;
  TORCH_ARG(int64_t, min_channels_per_group) = 4;
  TORCH_ARG(double, eps) = 1e-5;
};

class EdmGroupNormImpl : public torch::nn::Module {
 public:
  explicit EdmGroupNormImpl(const EdmGroupNormOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;

 private:
  int64_t groups_;
  double eps_;
};
TORCH_MODULE(EdmGroupNorm);

// cos/sin features of noise labels at geometrically spaced frequencies (DDPM++, ADM).
class PositionalEmbeddingImpl : public torch::nn::Module {
 public:
  PositionalEmbeddingImpl(int64_t num_channels, int64_t max_positions = 10000, bool endpoint = false);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t num_channels_, max_positions_;
  bool endpoint_;
};
TORCH_MODULE(PositionalEmbedding);

// cos/sin features at random frequencies (NCSN++); buffer `freqs` of num_channels / 2 values.
class FourierEmbeddingImpl : public torch::nn::Module {
 public:
  explicit FourierEmbeddingImpl(int64_t num_channels, double scale = 16);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor freqs;
};
TORCH_MODULE(FourierEmbedding);

// The 2-D resampling filter: outer(f, f) / sum(f)^2, shape (1, 1, k, k), float32.
torch::Tensor resample_filter_2d(const std::vector<double>& taps);

// True when resample_filter_2d(taps) * 4 is a 2x2 filter of ones (taps [a, a]): upsampling with it is
// nearest-neighbour repetition.
bool is_box_filter(const std::vector<double>& taps);

// EDM's upsampling: conv_transpose2d(x, (filter * 4).tile({C, 1, 1, 1}), groups=C, stride=2, padding), with
// filter (1, 1, k, k). `box` (see is_box_filter) with padding 0 takes the exact nearest-neighbour path.
torch::Tensor resample_up(const torch::Tensor& x, const torch::Tensor& filter, int64_t padding, bool box);

}  // namespace cmbench

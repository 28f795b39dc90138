#include "nets/edm_layers.h"

#include <cmath>

namespace cmbench {

EdmLinearImpl::EdmLinearImpl(const EdmLinearOptions& options) : options_(options) {
  const auto in = options.in_features(), out = options.out_features();
  weight = register_parameter("weight", init_weight({out, in}, options.init_mode(), in, out, options.init_weight()));
  if (options.bias())
    bias = register_parameter("bias", init_weight({out}, options.init_mode(), in, out, options.init_bias()));
}

torch::Tensor EdmLinearImpl::forward(const torch::Tensor& x) {
  return torch::nn::functional::linear(x, weight.to(x.dtype()), bias.defined() ? bias.to(x.dtype()) : torch::Tensor());
}

torch::Tensor resample_filter_2d(const std::vector<double>& taps) {
  const auto f = torch::tensor(taps, torch::kFloat32);
  return (f.outer(f) / f.sum().square()).reshape({1, 1, f.size(0), f.size(0)});
}

bool is_box_filter(const std::vector<double>& taps) { return taps.size() == 2 && taps[0] == taps[1] && taps[0] != 0; }

torch::Tensor resample_up(const torch::Tensor& x, const torch::Tensor& filter, int64_t padding, bool box) {
  namespace F = torch::nn::functional;
  const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (box && padding == 0)
    return x.unsqueeze(3).unsqueeze(5).expand({n, c, h, 2, w, 2}).reshape({n, c, 2 * h, 2 * w});
  // LibTorch 1.13 on the CPU runs a depthwise conv_transpose2d (and its backward) one channel at a time
  // through the slow reference kernel; with the channels folded into the batch it is one ordinary
  // single-channel convolution.
  const auto y = F::conv_transpose2d(x.reshape({n * c, 1, h, w}), filter * 4,
                                     F::ConvTranspose2dFuncOptions().stride(2).padding(padding));
  return y.reshape({n, c, y.size(2), y.size(3)});
}

EdmConv2dImpl::EdmConv2dImpl(const EdmConv2dOptions& options) : options_(options) {
  TORCH_CHECK(!(options.up() && options.down()), "EdmConv2d: up and down are exclusive");
  const auto in = options.in_channels(), out = options.out_channels(), k = options.kernel();
  if (k) {
    weight = register_parameter(
        "weight", init_weight({out, in, k, k}, options.init_mode(), in * k * k, out * k * k, options.init_weight()));
    if (options.bias())
      bias = register_parameter("bias", init_weight({out}, options.init_mode(), in * k * k, out * k * k,
                                                    options.init_bias()));
  }
  box_ = is_box_filter(options.resample_filter());
  if (options.up() || options.down())
    resample_filter = register_buffer("resample_filter", resample_filter_2d(options.resample_filter()));
}

torch::Tensor EdmConv2dImpl::forward(const torch::Tensor& input) {
  namespace F = torch::nn::functional;
  const auto dtype = input.dtype();
  const auto w = weight.defined() ? weight.to(dtype) : torch::Tensor();
  const auto f = resample_filter.defined() ? resample_filter.to(dtype) : torch::Tensor();
  const int64_t w_pad = w.defined() ? w.size(-1) / 2 : 0;
  const int64_t f_pad = f.defined() ? (f.size(-1) - 1) / 2 : 0;
  const auto in = options_.in_channels(), out = options_.out_channels();
  auto x = input;
  if (options_.fused_resample() && options_.up() && w.defined()) {
    x = resample_up(x, f, std::max(f_pad - w_pad, int64_t{0}), box_);
    x = F::conv2d(x, w, F::Conv2dFuncOptions().padding(std::max(w_pad - f_pad, int64_t{0})));
  } else if (options_.fused_resample() && options_.down() && w.defined()) {
    x = F::conv2d(x, w, F::Conv2dFuncOptions().padding(w_pad + f_pad));
    x = F::conv2d(x, f.tile({out, 1, 1, 1}), F::Conv2dFuncOptions().groups(out).stride(2));
  } else {
    if (options_.up())
      x = resample_up(x, f, f_pad, box_);
    if (options_.down())
      x = F::conv2d(x, f.tile({in, 1, 1, 1}), F::Conv2dFuncOptions().groups(in).stride(2).padding(f_pad));
    if (w.defined()) x = F::conv2d(x, w, F::Conv2dFuncOptions().padding(w_pad));
  }
  if (bias.defined()) x = x + bias.to(dtype).reshape({1, -1, 1, 1});
  return x;
}

EdmGroupNormImpl::EdmGroupNormImpl(const EdmGroupNormOptions& options)
    : groups_(std::min(options.num_groups(), options.num_channels() / options.min_channels_per_group())),
      eps_(options.eps()) {
  weight = register_parameter("weight", init_constant({options.num_channels()}, 1));
  bias = register_parameter("bias", init_constant({options.num_channels()}, 0));
}

torch::Tensor EdmGroupNormImpl::forward(const torch::Tensor& x) {
  return torch::group_norm(x, groups_, weight.to(x.dtype()), bias.to(x.dtype()), eps_);
}

PositionalEmbeddingImpl::PositionalEmbeddingImpl(int64_t num_channels, int64_t max_positions, bool endpoint)
    : num_channels_(num_channels), max_positions_(max_positions), endpoint_(endpoint) {}

torch::Tensor PositionalEmbeddingImpl::forward(const torch::Tensor& x) {
  const int64_t half = num_channels_ / 2;
  auto freqs = torch::arange(0, half, torch::TensorOptions().dtype(torch::kFloat32).device(x.device()));
  freqs = freqs / static_cast<double>(half - (endpoint_ ? 1 : 0));
  freqs = torch::pow(1.0 / static_cast<double>(max_positions_), freqs);
  const auto phase = x.outer(freqs.to(x.dtype()));
  return torch::cat({phase.cos(), phase.sin()}, 1);
}

FourierEmbeddingImpl::FourierEmbeddingImpl(int64_t num_channels, double scale) {
  freqs = register_buffer("freqs", init_randn({num_channels / 2}) * scale);
}

torch::Tensor FourierEmbeddingImpl::forward(const torch::Tensor& x) {
  const auto phase = x.outer((2 * M_PI * freqs).to(x.dtype()));
  return torch::cat({phase.cos(), phase.sin()}, 1);
}

}  // namespace cmbench

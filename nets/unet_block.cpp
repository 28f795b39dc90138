#include "nets/unet_block.h"

#include "core/torch_compat.h"

namespace cmbench {

UNetBlockImpl::UNetBlockImpl(const UNetBlockOptions& o) : options_(o) {
  const auto in = o.in_channels(), out = o.out_channels();
  num_heads_ = !o.attention() ? 0 : o.num_heads() > 0 ? o.num_heads() : out / o.channels_per_head();
  auto conv = [&](int64_t cin, int64_t cout, int64_t kernel, double w, double b) {
    return EdmConv2dOptions(cin, cout, kernel).init_mode(o.init_mode()).init_weight(w).init_bias(b)
        .resample_filter(o.resample_filter());
  };
  norm0 = register_module("norm0", EdmGroupNorm(EdmGroupNormOptions(in).eps(o.eps())));
  conv0 = register_module("conv0", EdmConv2d(conv(in, out, 3, o.init_weight(), o.init_bias()).up(o.up()).down(o.down())));
  affine = register_module("affine", EdmLinear(EdmLinearOptions(o.emb_channels(), out * (o.adaptive_scale() ? 2 : 1))
                                                   .init_mode(o.init_mode()).init_weight(o.init_weight())
                                                   .init_bias(o.init_bias())));
  norm1 = register_module("norm1", EdmGroupNorm(EdmGroupNormOptions(out).eps(o.eps())));
  conv1 = register_module("conv1", EdmConv2d(conv(out, out, 3, o.init_zero_weight(), o.init_zero_bias())));
  if (out != in || o.up() || o.down()) {
    const int64_t kernel = (o.resample_proj() || out != in) ? 1 : 0;
    skip = register_module("skip", EdmConv2d(conv(in, out, kernel, o.init_weight(), o.init_bias()).up(o.up()).down(o.down())));
  }
  if (num_heads_) {
    const double attn_weight = o.init_attn_weight() >= 0 ? o.init_attn_weight() : o.init_weight();
    norm2 = register_module("norm2", EdmGroupNorm(EdmGroupNormOptions(out).eps(o.eps())));
    qkv = register_module("qkv", EdmConv2d(conv(out, out * 3, 1, attn_weight, o.init_bias())));
    proj = register_module("proj", EdmConv2d(conv(out, out, 1, o.init_zero_weight(), o.init_zero_bias())));
  }
}

torch::Tensor UNetBlockImpl::forward(const torch::Tensor& input, const torch::Tensor& emb) {
  auto x = conv0->forward(torch::silu(norm0->forward(input)));
  const auto params = affine->forward(emb).unsqueeze(2).unsqueeze(3).to(x.dtype());
  if (options_.adaptive_scale()) {
    const auto chunks = params.chunk(2, 1);  // scale, shift
    x = torch::silu(torch::addcmul(chunks[1], norm1->forward(x), chunks[0] + 1));
  } else {
    x = torch::silu(norm1->forward(x + params));
  }
  x = conv1->forward(torch::dropout(x, options_.dropout(), is_training()));
  x = (x + (skip ? skip->forward(input) : input)) * options_.skip_scale();

  if (num_heads_) {
    const auto n = x.size(0), c = x.size(1);
    // (N*heads, C/heads, 3, H*W) as the reference splits qkv; attention over the H*W positions.
    const auto parts = qkv->forward(norm2->forward(x)).reshape({n * num_heads_, c / num_heads_, 3, -1}).unbind(2);
    const auto a = compat::attention(parts[0].transpose(1, 2), parts[1].transpose(1, 2), parts[2].transpose(1, 2));
    x = (proj->forward(a.transpose(1, 2).reshape(x.sizes())) + x) * options_.skip_scale();
  }
  return x;
}

}  // namespace cmbench

#include "nets/dhariwal_unet.h"

#include <algorithm>
#include <cmath>

namespace cmbench {

namespace {
std::string res_name(int64_t res, const std::string& suffix) {
  return std::to_string(res) + "x" + std::to_string(res) + "_" + suffix;
}
}  // namespace

DhariwalUNetImpl::DhariwalUNetImpl(const DhariwalUNetOptions& o) : options_(o) {
  const int64_t emb_channels = o.model_channels() * o.channel_mult_emb();
  const auto init = InitMode::kaiming_uniform;
  const double third = std::sqrt(1.0 / 3);
  auto block_options = [&](int64_t cin, int64_t cout) {
    return UNetBlockOptions(cin, cout, emb_channels)
        .channels_per_head(o.channels_per_head()).dropout(o.dropout())
        .init_mode(init).init_weight(third).init_bias(third).init_zero_weight(0).init_zero_bias(0);
  };

  // Mapping (registration order as the reference: map_label last).
  map_noise = register_module("map_noise", PositionalEmbedding(o.model_channels()));
  if (o.augment_dim())
    map_augment = register_module("map_augment", EdmLinear(EdmLinearOptions(o.augment_dim(), o.model_channels())
                                                               .bias(false).init_mode(init).init_weight(0).init_bias(0)));
  map_layer0 = register_module("map_layer0", EdmLinear(EdmLinearOptions(o.model_channels(), emb_channels)
                                                           .init_mode(init).init_weight(third).init_bias(third)));
  map_layer1 = register_module("map_layer1", EdmLinear(EdmLinearOptions(emb_channels, emb_channels)
                                                           .init_mode(init).init_weight(third).init_bias(third)));
  if (o.label_dim())
    map_label = register_module("map_label", EdmLinear(EdmLinearOptions(o.label_dim(), emb_channels).bias(false)
                                                           .init_mode(InitMode::kaiming_normal)
                                                           .init_weight(std::sqrt(static_cast<double>(o.label_dim())))));

  // Encoder.
  enc_ = register_module("enc", std::make_shared<torch::nn::Module>());
  std::vector<int64_t> skips;
  int64_t cout = o.in_channels();
  const auto& mult = o.channel_mult();
  const auto& attn = o.attn_resolutions();
  auto has_attn = [&](int64_t res) { return std::find(attn.begin(), attn.end(), res) != attn.end(); };
  for (size_t level = 0; level < mult.size(); ++level) {
    const int64_t res = o.img_resolution() >> level;
    if (level == 0) {
      const int64_t cin = cout;
      cout = o.model_channels() * mult[level];
      enc_conv_ = enc_->register_module(res_name(res, "conv"),
                                        EdmConv2d(EdmConv2dOptions(cin, cout, 3).init_mode(init).init_weight(third).init_bias(third)));
    } else {
      enc_blocks_.push_back(enc_->register_module(res_name(res, "down"), UNetBlock(block_options(cout, cout).down(true))));
    }
    skips.push_back(cout);
    for (int64_t idx = 0; idx < o.num_blocks(); ++idx) {
      const int64_t cin = cout;
      cout = o.model_channels() * mult[level];
      enc_blocks_.push_back(enc_->register_module(res_name(res, "block" + std::to_string(idx)),
                                                  UNetBlock(block_options(cin, cout).attention(has_attn(res)))));
      skips.push_back(cout);
    }
  }

  // Decoder.
  dec_ = register_module("dec", std::make_shared<torch::nn::Module>());
  for (size_t l = mult.size(); l-- > 0;) {
    const int64_t res = o.img_resolution() >> l;
    if (l == mult.size() - 1) {
      dec_blocks_.push_back(dec_->register_module(res_name(res, "in0"), UNetBlock(block_options(cout, cout).attention(true))));
      dec_blocks_.push_back(dec_->register_module(res_name(res, "in1"), UNetBlock(block_options(cout, cout))));
    } else {
      dec_blocks_.push_back(dec_->register_module(res_name(res, "up"), UNetBlock(block_options(cout, cout).up(true))));
    }
    for (int64_t idx = 0; idx <= o.num_blocks(); ++idx) {
      const int64_t cin = cout + skips.back();
      skips.pop_back();
      cout = o.model_channels() * mult[l];
      dec_blocks_.push_back(dec_->register_module(res_name(res, "block" + std::to_string(idx)),
                                                  UNetBlock(block_options(cin, cout).attention(has_attn(res)))));
    }
  }
  out_norm = register_module("out_norm", EdmGroupNorm(EdmGroupNormOptions(cout)));
  out_conv = register_module("out_conv", EdmConv2d(EdmConv2dOptions(cout, o.out_channels(), 3).init_mode(init).init_weight(0).init_bias(0)));
}

torch::Tensor DhariwalUNetImpl::forward(const torch::Tensor& input, const torch::Tensor& noise_labels,
                                        const torch::Tensor& class_labels, const torch::Tensor& augment_labels) {
  const auto n = input.size(0);
  auto emb = map_noise->forward(noise_labels);
  if (map_augment && augment_labels.defined()) emb = emb + map_augment->forward(augment_labels.to(emb.dtype()));
  emb = torch::silu(map_layer0->forward(emb));
  emb = map_layer1->forward(emb);
  if (map_label) {
    auto labels = class_labels.defined() ? class_labels.to(emb.dtype())
                                         : torch::zeros({n, options_.label_dim()}, emb.options());
    if (is_training() && options_.label_dropout() > 0)
      labels = labels * (torch::rand({n, 1}, labels.options()) >= options_.label_dropout()).to(labels.dtype());
    emb = emb + map_label->forward(labels);
  }
  emb = torch::silu(emb);

  std::vector<torch::Tensor> skips;
  auto x = enc_conv_->forward(input);
  skips.push_back(x);
  for (auto& block : enc_blocks_) {
    x = block->forward(x, emb);
    skips.push_back(x);
  }
  for (auto& block : dec_blocks_) {
    if (x.size(1) != block->in_channels()) {
      x = torch::cat({x, skips.back()}, 1);
      skips.pop_back();
    }
    x = block->forward(x, emb);
  }
  return out_conv->forward(torch::silu(out_norm->forward(x)));
}

}  // namespace cmbench

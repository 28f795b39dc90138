#include "nets/song_unet.h"

#include <cmath>

#include "core/error.h"

namespace cmbench {

namespace {
std::string res_name(int64_t res, const std::string& suffix) {
  return std::to_string(res) + "x" + std::to_string(res) + "_" + suffix;
}

bool contains(const std::vector<int64_t>& values, int64_t v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}
}  // namespace

void SongUNetImpl::add_enc(const std::string& name, Step step) {
  if (step.conv) enc_->register_module(name, step.conv);
  if (step.block) enc_->register_module(name, step.block);
  enc_steps_.push_back(std::move(step));
}

void SongUNetImpl::add_dec(const std::string& name, Step step) {
  if (step.conv) dec_->register_module(name, step.conv);
  if (step.block) dec_->register_module(name, step.block);
  if (step.norm) dec_->register_module(name, step.norm);
  dec_steps_.push_back(std::move(step));
}

SongUNetImpl::SongUNetImpl(const SongUNetOptions& o) : options_(o) {
  const auto& emb_type = o.embedding_type();
  if (emb_type != "positional" && emb_type != "fourier")
    throw InputError("net.embedding_type '" + emb_type + "': expected positional or fourier");
  if (o.encoder_type() != "standard" && o.encoder_type() != "skip" && o.encoder_type() != "residual")
    throw InputError("net.encoder_type '" + o.encoder_type() + "': expected standard, skip or residual");
  if (o.decoder_type() != "standard" && o.decoder_type() != "skip")
    throw InputError("net.decoder_type '" + o.decoder_type() + "': expected standard or skip");

  const int64_t emb_channels = o.model_channels() * o.channel_mult_emb();
  const int64_t noise_channels = o.model_channels() * o.channel_mult_noise();
  const auto init = InitMode::xavier_uniform;
  auto block_options = [&](int64_t cin, int64_t cout) {
    // EDM's DDPM++/NCSN++ block settings: one head, sqrt(0.5) skips, zero-ish output layers.
    return UNetBlockOptions(cin, cout, emb_channels)
        .num_heads(1).dropout(o.dropout()).skip_scale(std::sqrt(0.5)).eps(1e-6)
        .resample_filter(o.resample_filter()).resample_proj(true).adaptive_scale(false)
        .init_mode(init).init_weight(1).init_bias(0).init_zero_weight(1e-5).init_zero_bias(0)
        .init_attn_weight(std::sqrt(0.2));
  };
  auto conv_options = [&](int64_t cin, int64_t cout, int64_t kernel) {
    return EdmConv2dOptions(cin, cout, kernel).init_mode(init).resample_filter(o.resample_filter());
  };

  // Mapping.
  if (emb_type == "positional")
    map_noise_positional = register_module("map_noise", PositionalEmbedding(noise_channels, 10000, true));
  else
    map_noise_fourier = register_module("map_noise", FourierEmbedding(noise_channels, o.fourier_scale()));
  if (o.label_dim())
    map_label = register_module("map_label", EdmLinear(EdmLinearOptions(o.label_dim(), noise_channels).init_mode(init)));
  if (o.augment_dim())
    map_augment = register_module(
        "map_augment", EdmLinear(EdmLinearOptions(o.augment_dim(), noise_channels).bias(false).init_mode(init)));
  map_layer0 = register_module("map_layer0", EdmLinear(EdmLinearOptions(noise_channels, emb_channels).init_mode(init)));
  map_layer1 = register_module("map_layer1", EdmLinear(EdmLinearOptions(emb_channels, emb_channels).init_mode(init)));

  // Encoder.
  enc_ = register_module("enc", std::make_shared<torch::nn::Module>());
  std::vector<int64_t> skips;
  int64_t cout = o.in_channels(), caux = o.in_channels();
  const auto& mult = o.channel_mult();
  for (size_t level = 0; level < mult.size(); ++level) {
    const int64_t res = o.img_resolution() >> level;
    if (level == 0) {
      const int64_t cin = cout;
      cout = o.model_channels();
      add_enc(res_name(res, "conv"), {Kind::conv, EdmConv2d(conv_options(cin, cout, 3))});
      skips.push_back(cout);
    } else {
      add_enc(res_name(res, "down"), {Kind::block, nullptr, UNetBlock(block_options(cout, cout).down(true))});
      skips.push_back(cout);
      if (o.encoder_type() == "skip") {
        add_enc(res_name(res, "aux_down"), {Kind::aux_down, EdmConv2d(conv_options(caux, caux, 0).down(true))});
        add_enc(res_name(res, "aux_skip"), {Kind::aux_skip, EdmConv2d(conv_options(caux, cout, 1))});
      }
      if (o.encoder_type() == "residual") {
        add_enc(res_name(res, "aux_residual"),
                {Kind::aux_residual, EdmConv2d(conv_options(caux, cout, 3).down(true).fused_resample(true))});
        caux = cout;
      }
    }
    for (int64_t idx = 0; idx < o.num_blocks(); ++idx) {
      const int64_t cin = cout;
      cout = o.model_channels() * mult[level];
      const bool attn = contains(o.attn_resolutions(), res);
      add_enc(res_name(res, "block" + std::to_string(idx)),
              {Kind::block, nullptr, UNetBlock(block_options(cin, cout).attention(attn))});
      skips.push_back(cout);
    }
  }

  // Decoder.
  dec_ = register_module("dec", std::make_shared<torch::nn::Module>());
  for (size_t l = mult.size(); l-- > 0;) {
    const int64_t res = o.img_resolution() >> l;
    if (l == mult.size() - 1) {
      add_dec(res_name(res, "in0"), {Kind::block, nullptr, UNetBlock(block_options(cout, cout).attention(true))});
      add_dec(res_name(res, "in1"), {Kind::block, nullptr, UNetBlock(block_options(cout, cout))});
    } else {
      add_dec(res_name(res, "up"), {Kind::block, nullptr, UNetBlock(block_options(cout, cout).up(true))});
    }
    for (int64_t idx = 0; idx <= o.num_blocks(); ++idx) {
      const int64_t cin = cout + skips.back();
      skips.pop_back();
      cout = o.model_channels() * mult[l];
      const bool attn = idx == o.num_blocks() && contains(o.attn_resolutions(), res);
      add_dec(res_name(res, "block" + std::to_string(idx)),
              {Kind::block, nullptr, UNetBlock(block_options(cin, cout).attention(attn))});
    }
    if (o.decoder_type() == "skip" || l == 0) {
      const int64_t cimg = o.out_channels();
      if (o.decoder_type() == "skip" && l < mult.size() - 1)
        add_dec(res_name(res, "aux_up"), {Kind::aux_up, EdmConv2d(conv_options(cimg, cimg, 0).up(true))});
      add_dec(res_name(res, "aux_norm"),
              {Kind::aux_norm, nullptr, nullptr, EdmGroupNorm(EdmGroupNormOptions(cout).eps(1e-6))});
      add_dec(res_name(res, "aux_conv"), {Kind::aux_conv, EdmConv2d(conv_options(cout, cimg, 3).init_weight(1e-5))});
    }
  }
}

torch::Tensor SongUNetImpl::forward(const torch::Tensor& input, const torch::Tensor& noise_labels,
                                    const torch::Tensor& class_labels, const torch::Tensor& augment_labels) {
  const auto n = input.size(0);
  // Mapping. EDM swaps the cos/sin halves of the noise embedding.
  auto emb = map_noise_positional ? map_noise_positional->forward(noise_labels) : map_noise_fourier->forward(noise_labels);
  emb = emb.reshape({n, 2, -1}).flip({1}).reshape({n, -1});
  if (map_label) {
    auto labels = class_labels.defined() ? class_labels.to(emb.dtype())
                                         : torch::zeros({n, options_.label_dim()}, emb.options());
    if (is_training() && options_.label_dropout() > 0)
      labels = labels * (torch::rand({n, 1}, labels.options()) >= options_.label_dropout()).to(labels.dtype());
    emb = emb + map_label->forward(labels * std::sqrt(static_cast<double>(options_.label_dim())));
  }
  if (map_augment && augment_labels.defined()) emb = emb + map_augment->forward(augment_labels.to(emb.dtype()));
  emb = torch::silu(map_layer0->forward(emb));
  emb = torch::silu(map_layer1->forward(emb));

  // Encoder.
  std::vector<torch::Tensor> skips;
  auto x = input;
  auto aux = input;
  for (auto& step : enc_steps_) {
    switch (step.kind) {
      case Kind::aux_down: aux = step.conv->forward(aux); break;
      case Kind::aux_skip: x = skips.back() = x + step.conv->forward(aux); break;
      case Kind::aux_residual: x = skips.back() = aux = (x + step.conv->forward(aux)) / std::sqrt(2.0); break;
      case Kind::conv: x = step.conv->forward(x); skips.push_back(x); break;
      default: x = step.block->forward(x, emb); skips.push_back(x); break;
    }
  }

  // Decoder.
  torch::Tensor out, tmp;
  for (auto& step : dec_steps_) {
    switch (step.kind) {
      case Kind::aux_up: out = step.conv->forward(out); break;
      case Kind::aux_norm: tmp = step.norm->forward(x); break;
      case Kind::aux_conv:
        tmp = step.conv->forward(torch::silu(tmp));
        out = out.defined() ? tmp + out : tmp;
        break;
      default:
        if (x.size(1) != step.block->in_channels()) {
          x = torch::cat({x, skips.back()}, 1);
          skips.pop_back();
        }
        x = step.block->forward(x, emb);
        break;
    }
  }
  return out;
}

}  // namespace cmbench

#include "nets/edm2_unet.h"

#include <algorithm>
#include <cmath>

#include "core/torch_compat.h"
#include "nets/edm_layers.h"

namespace cmbench {

torch::Tensor mp_normalize(const torch::Tensor& x, std::vector<int64_t> dims, double eps) {
  if (dims.empty())
    for (int64_t d = 1; d < x.dim(); ++d) dims.push_back(d);
  auto norm = compat::vector_norm(x, dims, /*keepdim=*/true, torch::kFloat32);
  norm = eps + norm * std::sqrt(static_cast<double>(norm.numel()) / static_cast<double>(x.numel()));
  return x / norm.to(x.dtype());
}

torch::Tensor mp_silu(const torch::Tensor& x) { return torch::silu(x) / 0.596; }

torch::Tensor mp_sum(const torch::Tensor& a, const torch::Tensor& b, double t) {
  return a.lerp(b, t) / std::sqrt((1 - t) * (1 - t) + t * t);
}

torch::Tensor mp_cat(const torch::Tensor& a, const torch::Tensor& b, double t) {
  const double na = static_cast<double>(a.size(1)), nb = static_cast<double>(b.size(1));
  const double c = std::sqrt((na + nb) / ((1 - t) * (1 - t) + t * t));
  return torch::cat({a * (c / std::sqrt(na) * (1 - t)), b * (c / std::sqrt(nb) * t)}, 1);
}

namespace {

// EDM2's resample(): depthwise filtering with stride 2 (down) or its transpose (up).
torch::Tensor resample(const torch::Tensor& x, const std::vector<double>& taps, int64_t mode) {
  if (mode == 0) return x;
  namespace F = torch::nn::functional;
  const int64_t pad = (static_cast<int64_t>(taps.size()) - 1) / 2;
  const auto c = x.size(1);
  const auto f = resample_filter_2d(taps).to(x.device(), x.scalar_type());
  if (mode < 0) return F::conv2d(x, f.tile({c, 1, 1, 1}), F::Conv2dFuncOptions().groups(c).stride(2).padding(pad));
  return resample_up(x, f, pad, is_box_filter(taps));
}

std::string res_name(int64_t res, const std::string& suffix) {
  return std::to_string(res) + "x" + std::to_string(res) + "_" + suffix;
}

}  // namespace

MPConvImpl::MPConvImpl(int64_t in_channels, int64_t out_channels, std::vector<int64_t> kernel) {
  std::vector<int64_t> shape{out_channels, in_channels};
  shape.insert(shape.end(), kernel.begin(), kernel.end());
  weight = register_parameter("weight", init_randn(shape));
}

torch::Tensor MPConvImpl::forward(const torch::Tensor& x, const torch::Tensor& gain) {
  auto w = weight.to(torch::kFloat32);
  if (is_training() && forced_weight_norm_) {
    torch::NoGradGuard no_grad;
    weight.copy_(mp_normalize(w));
  }
  w = mp_normalize(w);
  const double fan_in = static_cast<double>(w[0].numel());
  w = gain.defined() ? w * (gain / std::sqrt(fan_in)) : w * (1 / std::sqrt(fan_in));
  w = w.to(x.dtype());
  if (w.dim() == 2) return x.matmul(w.t());
  return torch::nn::functional::conv2d(x, w, torch::nn::functional::Conv2dFuncOptions().padding(w.size(-1) / 2));
}

MPFourierImpl::MPFourierImpl(int64_t num_channels, double bandwidth) {
  freqs = register_buffer("freqs", 2 * M_PI * init_randn({num_channels}) * bandwidth);
  phases = register_buffer("phases", 2 * M_PI * init_rand({num_channels}));
}

torch::Tensor MPFourierImpl::forward(const torch::Tensor& x) {
  auto y = x.to(torch::kFloat32).outer(freqs.to(torch::kFloat32));
  y = (y + phases.to(torch::kFloat32)).cos() * std::sqrt(2.0);
  return y.to(x.dtype());
}

Edm2BlockImpl::Edm2BlockImpl(const Edm2BlockOptions& o)
    : options_(o), num_heads_(o.attention() ? o.out_channels() / o.channels_per_head() : 0) {
  const auto in = o.in_channels(), out = o.out_channels();
  emb_gain = register_parameter("emb_gain", init_constant({}, 0));
  conv_res0 = register_module("conv_res0", MPConv(o.decoder() ? in : out, out, std::vector<int64_t>{3, 3}));
  emb_linear = register_module("emb_linear", MPConv(o.emb_channels(), out, std::vector<int64_t>{}));
  conv_res1 = register_module("conv_res1", MPConv(out, out, std::vector<int64_t>{3, 3}));
  if (in != out) conv_skip = register_module("conv_skip", MPConv(in, out, std::vector<int64_t>{1, 1}));
  if (num_heads_) {
    attn_qkv = register_module("attn_qkv", MPConv(out, out * 3, std::vector<int64_t>{1, 1}));
    attn_proj = register_module("attn_proj", MPConv(out, out, std::vector<int64_t>{1, 1}));
  }
}

torch::Tensor Edm2BlockImpl::forward(const torch::Tensor& input, const torch::Tensor& emb) {
  // Main branch.
  auto x = resample(input, options_.resample_filter(), options_.resample());
  if (!options_.decoder()) {
    if (conv_skip) x = conv_skip->forward(x);
    x = mp_normalize(x, {1});  // pixel norm
  }
  // Residual branch.
  auto y = conv_res0->forward(mp_silu(x));
  const auto c = emb_linear->forward(emb, emb_gain) + 1;
  y = mp_silu(y * c.unsqueeze(2).unsqueeze(3).to(y.dtype()));
  if (is_training() && options_.dropout() != 0) y = torch::dropout(y, options_.dropout(), true);
  y = conv_res1->forward(y);
  // Connect the branches.
  if (options_.decoder() && conv_skip) x = conv_skip->forward(x);
  x = mp_sum(x, y, options_.res_balance());

  if (num_heads_) {
    const auto n = x.size(0), positions = x.size(2) * x.size(3);
    y = attn_qkv->forward(x).reshape({n, num_heads_, -1, 3, positions});
    const auto qkv = mp_normalize(y, {2}).unbind(3);  // pixel norm, then split: each (N, heads, C/heads, HW)
    auto rows = [&](const torch::Tensor& t) { return t.reshape({n * num_heads_, -1, positions}).transpose(1, 2); };
    const auto a = compat::attention(rows(qkv[0]), rows(qkv[1]), rows(qkv[2]));  // (N*heads, HW, C/heads)
    y = attn_proj->forward(a.transpose(1, 2).reshape(x.sizes()));
    x = mp_sum(x, y, options_.attn_balance());
  }
  if (options_.clip_act() > 0) x = x.clamp(-options_.clip_act(), options_.clip_act());
  return x;
}

Edm2UNetImpl::Edm2UNetImpl(const Edm2UNetOptions& o) : options_(o) {
  std::vector<int64_t> cblock;
  for (auto m : o.channel_mult()) cblock.push_back(o.model_channels() * m);
  const int64_t cnoise = o.channel_mult_noise() ? o.model_channels() * o.channel_mult_noise() : cblock.front();
  const int64_t cemb = o.channel_mult_emb() ? o.model_channels() * o.channel_mult_emb()
                                            : *std::max_element(cblock.begin(), cblock.end());
  out_gain = register_parameter("out_gain", init_constant({}, 0));

  emb_fourier = register_module("emb_fourier", MPFourier(cnoise));
  emb_noise = register_module("emb_noise", MPConv(cnoise, cemb, std::vector<int64_t>{}));
  if (o.label_dim()) emb_label = register_module("emb_label", MPConv(o.label_dim(), cemb, std::vector<int64_t>{}));

  const auto& attn = o.attn_resolutions();
  auto block = [&](int64_t cin, int64_t cout, int64_t res, bool decoder) {
    const bool dropout_here = o.dropout_res() <= 0 || res <= o.dropout_res();
    return Edm2BlockOptions(cin, cout, cemb).decoder(decoder).resample_filter(o.resample_filter())
        .attention(std::find(attn.begin(), attn.end(), res) != attn.end())
        .channels_per_head(o.channels_per_head()).dropout(dropout_here ? o.dropout() : 0.0)
        .res_balance(o.res_balance()).attn_balance(o.attn_balance()).clip_act(o.clip_act());
  };

  enc_ = register_module("enc", std::make_shared<torch::nn::Module>());
  std::vector<int64_t> skips;
  int64_t cout = o.img_channels() + 1;
  for (size_t level = 0; level < cblock.size(); ++level) {
    const int64_t res = o.img_resolution() >> level;
    if (level == 0) {
      const int64_t cin = cout;
      cout = cblock[level];
      enc_conv_ = enc_->register_module(res_name(res, "conv"), MPConv(cin, cout, std::vector<int64_t>{3, 3}));
    } else {
      enc_blocks_.push_back(enc_->register_module(res_name(res, "down"),
                                                  Edm2Block(block(cout, cout, res, false).resample(-1).attention(false))));
    }
    skips.push_back(cout);
    for (int64_t idx = 0; idx < o.num_blocks(); ++idx) {
      const int64_t cin = cout;
      cout = cblock[level];
      enc_blocks_.push_back(enc_->register_module(res_name(res, "block" + std::to_string(idx)),
                                                  Edm2Block(block(cin, cout, res, false))));
      skips.push_back(cout);
    }
  }

  dec_ = register_module("dec", std::make_shared<torch::nn::Module>());
  for (size_t l = cblock.size(); l-- > 0;) {
    const int64_t res = o.img_resolution() >> l;
    if (l == cblock.size() - 1) {
      dec_blocks_.emplace_back(false, dec_->register_module(res_name(res, "in0"),
                                                            Edm2Block(block(cout, cout, res, true).attention(true))));
      dec_blocks_.emplace_back(false, dec_->register_module(res_name(res, "in1"),
                                                            Edm2Block(block(cout, cout, res, true).attention(false))));
    } else {
      dec_blocks_.emplace_back(false, dec_->register_module(res_name(res, "up"),
                                                            Edm2Block(block(cout, cout, res, true).resample(1).attention(false))));
    }
    for (int64_t idx = 0; idx <= o.num_blocks(); ++idx) {
      const int64_t cin = cout + skips.back();
      skips.pop_back();
      cout = cblock[l];
      dec_blocks_.emplace_back(true, dec_->register_module(res_name(res, "block" + std::to_string(idx)),
                                                           Edm2Block(block(cin, cout, res, true))));
    }
  }
  out_conv = register_module("out_conv", MPConv(cout, o.img_channels(), std::vector<int64_t>{3, 3}));
}

torch::Tensor Edm2UNetImpl::forward(const torch::Tensor& input, const torch::Tensor& noise_labels,
                                    const torch::Tensor& class_labels) {
  const auto n = input.size(0);
  auto emb = emb_noise->forward(emb_fourier->forward(noise_labels));
  if (emb_label) {
    auto labels = class_labels.defined() ? class_labels.to(emb.dtype())
                                         : torch::zeros({n, options_.label_dim()}, emb.options());
    if (is_training() && options_.label_dropout() > 0)
      labels = labels * (torch::rand({n, 1}, labels.options()) >= options_.label_dropout()).to(labels.dtype());
    emb = mp_sum(emb, emb_label->forward(labels * std::sqrt(static_cast<double>(labels.size(1)))),
                 options_.label_balance());
  }
  emb = mp_silu(emb);

  auto x = torch::cat({input, torch::ones_like(input.slice(1, 0, 1))}, 1);
  std::vector<torch::Tensor> skips;
  x = enc_conv_->forward(x);
  skips.push_back(x);
  for (auto& block : enc_blocks_) {
    x = block->forward(x, emb);
    skips.push_back(x);
  }
  for (auto& [concat, block] : dec_blocks_) {
    if (concat) {
      x = mp_cat(x, skips.back(), options_.concat_balance());
      skips.pop_back();
    }
    x = block->forward(x, emb);
  }
  return out_conv->forward(x, out_gain);
}

Edm2Network::Edm2Network(const Edm2UNetOptions& options, int64_t logvar_channels, nlohmann::json config,
                         PrecondConfig precond)
    : PreconditionedNetwork(std::move(config), precond) {
  unet = register_module("unet", Edm2UNet(options));
  logvar_fourier = register_module("logvar_fourier", MPFourier(logvar_channels));
  logvar_linear = register_module("logvar_linear", MPConv(logvar_channels, 1, std::vector<int64_t>{}));
}

torch::Tensor Edm2Network::raw(const torch::Tensor& scaled_x, const torch::Tensor& c_noise,
                               const torch::Tensor& class_labels, const torch::Tensor&) {
  return unet->forward(scaled_x, c_noise, class_labels);
}

void Edm2Network::set_forced_weight_norm(bool enabled) {
  forced_weight_norm_ = enabled;
  for (auto& module : modules(/*include_self=*/false))
    if (auto* conv = module->as<MPConvImpl>()) conv->set_forced_weight_norm(enabled);
}

torch::Tensor Edm2Network::logvar(const torch::Tensor& c_noise) {
  return logvar_linear->forward(logvar_fourier->forward(c_noise)).reshape({-1, 1, 1, 1});
}

}  // namespace cmbench

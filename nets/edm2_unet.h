// The EDM2 U-Net (NVlabs/edm2 training/networks_edm2.py): magnitude-preserving layers, forced weight
// normalization in training, and EDM2's Precond wrapper (uncertainty head `logvar_*`). Option names
// are EDM2's keyword names; 0 stands for the reference's None in channel_mult_noise/_emb.
#pragma once

#include <vector>

#include "nets/denoiser.h"
#include "nets/init.h"

namespace cmbench {

// Magnitude-preserving primitives (EDM2 paper equations 47, 75, 81, 88, 103).
torch::Tensor mp_normalize(const torch::Tensor& x, std::vector<int64_t> dims = {}, double eps = 1e-4);
torch::Tensor mp_silu(const torch::Tensor& x);
torch::Tensor mp_sum(const torch::Tensor& a, const torch::Tensor& b, double t = 0.5);
torch::Tensor mp_cat(const torch::Tensor& a, const torch::Tensor& b, double t = 0.5);

// Convolution (kernel {k, k}) or fully-connected layer (kernel {}) with a unit-norm weight. In train
// mode the stored weight is itself renormalized before use (forced weight normalization), unless
// turned off (set_forced_weight_norm(false), e.g. for no-grad passes in train mode).
class MPConvImpl : public torch::nn::Module {
 public:
  MPConvImpl(int64_t in_channels, int64_t out_channels, std::vector<int64_t> kernel);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& gain = {});
  void set_forced_weight_norm(bool enabled) { forced_weight_norm_ = enabled; }
  torch::Tensor weight;

 private:
  bool forced_weight_norm_ = true;
};
TORCH_MODULE(MPConv);

class MPFourierImpl : public torch::nn::Module {
 public:
  explicit MPFourierImpl(int64_t num_channels, double bandwidth = 1);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor freqs, phases;
};
TORCH_MODULE(MPFourier);

struct Edm2BlockOptions {
  Edm2BlockOptions(int64_t in_channels, int64_t out_channels, int64_t emb_channels)
      : in_channels_(in_channels), out_channels_(out_channels), emb_channels_(emb_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, emb_channels);
  TORCH_ARG(bool, decoder) = false;          // EDM2's flavor 'dec' (else 'enc')
  TORCH_ARG(int64_t, resample) = 0;          // -1 down, 0 keep, +1 up
  TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double>{1, 1};
  TORCH_ARG(bool, attention) = false;
  TORCH_ARG(int64_t, channels_per_head) = 64;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, res_balance) = 0.3;
  TORCH_ARG(double, attn_balance) = 0.3;
  TORCH_ARG(double, clip_act) = 256;         // <= 0: no clipping
};

class Edm2BlockImpl : public torch::nn::Module {
 public:
  explicit Edm2BlockImpl(const Edm2BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);
  int64_t out_channels() const { return options_.out_channels(); }
  torch::Tensor emb_gain;

 private:
  Edm2BlockOptions options_;
  int64_t num_heads_;
  MPConv conv_res0{nullptr}, emb_linear{nullptr}, conv_res1{nullptr}, conv_skip{nullptr}, attn_qkv{nullptr},
      attn_proj{nullptr};
};
TORCH_MODULE(Edm2Block);

struct Edm2UNetOptions {
  Edm2UNetOptions(int64_t img_resolution, int64_t img_channels, int64_t label_dim)
      : img_resolution_(img_resolution), img_channels_(img_channels), label_dim_(label_dim) {}
  TORCH_ARG(int64_t, img_resolution);
  TORCH_ARG(int64_t, img_channels);
  TORCH_ARG(int64_t, label_dim);
  TORCH_ARG(int64_t, model_channels) = 192;
  TORCH_ARG(std::vector<int64_t>, channel_mult) = std::vector<int64_t>{1, 2, 3, 4};
  TORCH_ARG(int64_t, channel_mult_noise) = 0;  // 0: channel_mult[0]
  TORCH_ARG(int64_t, channel_mult_emb) = 0;    // 0: max(channel_mult)
  TORCH_ARG(int64_t, num_blocks) = 3;
  TORCH_ARG(std::vector<int64_t>, attn_resolutions) = std::vector<int64_t>{16, 8};
  TORCH_ARG(double, label_balance) = 0.5;
  TORCH_ARG(double, concat_balance) = 0.5;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(int64_t, dropout_res) = 0;  // > 0: dropout only in blocks at resolution <= dropout_res (ECT)
  TORCH_ARG(double, label_dropout) = 0.0;
  TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double>{1, 1};
  TORCH_ARG(int64_t, channels_per_head) = 64;
  TORCH_ARG(double, res_balance) = 0.3;
  TORCH_ARG(double, attn_balance) = 0.3;
  TORCH_ARG(double, clip_act) = 256;
};

class Edm2UNetImpl : public torch::nn::Module {
 public:
  explicit Edm2UNetImpl(const Edm2UNetOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& noise_labels, const torch::Tensor& class_labels);
  torch::Tensor out_gain;

 private:
  Edm2UNetOptions options_;
  MPFourier emb_fourier{nullptr};
  MPConv emb_noise{nullptr}, emb_label{nullptr}, enc_conv_{nullptr}, out_conv{nullptr};
  std::shared_ptr<torch::nn::Module> enc_, dec_;
  std::vector<Edm2Block> enc_blocks_;
  std::vector<std::pair<bool, Edm2Block>> dec_blocks_;  // (concatenates a skip first, block)
};
TORCH_MODULE(Edm2UNet);

// EDM2's Precond module as a Denoiser: children `unet`, `logvar_fourier`, `logvar_linear`, so that
// state() carries EDM2's names (`unet.` prefix). Preconditioning follows PrecondConfig.
class Edm2Network : public PreconditionedNetwork {
 public:
  Edm2Network(const Edm2UNetOptions& options, int64_t logvar_channels, nlohmann::json config, PrecondConfig precond);
  torch::Tensor raw(const torch::Tensor& scaled_x, const torch::Tensor& c_noise, const torch::Tensor& class_labels,
                    const torch::Tensor& augment_labels) override;
  NamedTensors state() override { return ordered_state(*this); }
  void set_forced_weight_norm(bool enabled) override;
  bool forced_weight_norm() const override { return forced_weight_norm_; }

  // EDM2's uncertainty u(sigma) (its loss weighting), (N, 1, 1, 1), from c_noise = ln(sigma) / 4.
  torch::Tensor logvar(const torch::Tensor& c_noise);
  torch::Tensor uncertainty(const torch::Tensor& sigma) override { return logvar(sigma.flatten().log() / 4); }

 private:
  Edm2UNet unet{nullptr};
  MPFourier logvar_fourier{nullptr};
  MPConv logvar_linear{nullptr};
  bool forced_weight_norm_ = true;
};

}  // namespace cmbench

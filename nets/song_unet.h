// EDM's SongUNet (NVlabs/edm training/networks.py): the DDPM++ and NCSN++ architectures of Song et
// al. 2021 as configured in EDM. Option names are EDM's keyword names.
#pragma once

#include <string>
#include <vector>

#include "nets/unet_block.h"

namespace cmbench {

struct SongUNetOptions {
  SongUNetOptions(int64_t img_resolution, int64_t in_channels, int64_t out_channels)
      : img_resolution_(img_resolution), in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, img_resolution);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, label_dim) = 0;
  TORCH_ARG(int64_t, augment_dim) = 0;
  TORCH_ARG(int64_t, model_channels) = 128;
  TORCH_ARG(std::vector<int64_t>, channel_mult) = std::vector<int64_t>{1, 2, 2, 2};
  TORCH_ARG(int64_t, channel_mult_emb) = 4;
  TORCH_ARG(int64_t, num_blocks) = 4;
  TORCH_ARG(std::vector<int64_t>, attn_resolutions) = std::vector<int64_t>{16};
  TORCH_ARG(double, dropout) = 0.10;
  TORCH_ARG(double, label_dropout) = 0.0;
  TORCH_ARG(std::string, embedding_type) = "positional";  // positional (DDPM++) | fourier (NCSN++)
  TORCH_ARG(int64_t, channel_mult_noise) = 1;
  TORCH_ARG(std::string, encoder_type) = "standard";  // standard | skip | residual
  TORCH_ARG(std::string, decoder_type) = "standard";  // standard | skip
  TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double>{1, 1};
  TORCH_ARG(double, fourier_scale) = 16.0;  // NCSN++ embedding bandwidth (iCT uses 0.02)
};

class SongUNetImpl : public torch::nn::Module {
 public:
  explicit SongUNetImpl(const SongUNetOptions& options);
  // x (N, C, H, W), noise_labels (N,), class_labels (N, label_dim) or undefined, augment_labels likewise.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& noise_labels, const torch::Tensor& class_labels,
                        const torch::Tensor& augment_labels);

 private:
  enum class Kind { conv, block, aux_down, aux_skip, aux_residual, aux_up, aux_norm, aux_conv };
  struct Step {
    Kind kind;
    EdmConv2d conv{nullptr};
    UNetBlock block{nullptr};
    EdmGroupNorm norm{nullptr};
  };
  void add_enc(const std::string& name, Step step);
  void add_dec(const std::string& name, Step step);

  SongUNetOptions options_;
  PositionalEmbedding map_noise_positional{nullptr};
  FourierEmbedding map_noise_fourier{nullptr};
  EdmLinear map_label{nullptr}, map_augment{nullptr}, map_layer0{nullptr}, map_layer1{nullptr};
  std::shared_ptr<torch::nn::Module> enc_, dec_;
  std::vector<Step> enc_steps_, dec_steps_;
};
TORCH_MODULE(SongUNet);

}  // namespace cmbench

// EDM's DhariwalUNet (NVlabs/edm training/networks.py): the ADM architecture of Dhariwal & Nichol
// 2021 as reimplemented in EDM. Option names are EDM's keyword names.
#pragma once

#include <vector>

#include "nets/unet_block.h"

namespace cmbench {

struct DhariwalUNetOptions {
  DhariwalUNetOptions(int64_t img_resolution, int64_t in_channels, int64_t out_channels)
      : img_resolution_(img_resolution), in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, img_resolution);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, label_dim) = 0;
  TORCH_ARG(int64_t, augment_dim) = 0;
  TORCH_ARG(int64_t, model_channels) = 192;
  TORCH_ARG(std::vector<int64_t>, channel_mult) = std::vector<int64_t>{1, 2, 3, 4};
  TORCH_ARG(int64_t, channel_mult_emb) = 4;
  TORCH_ARG(int64_t, num_blocks) = 3;
  TORCH_ARG(std::vector<int64_t>, attn_resolutions) = std::vector<int64_t>{32, 16, 8};
  TORCH_ARG(double, dropout) = 0.10;
  TORCH_ARG(double, label_dropout) = 0.0;
  TORCH_ARG(int64_t, channels_per_head) = 64;
};

class DhariwalUNetImpl : public torch::nn::Module {
 public:
  explicit DhariwalUNetImpl(const DhariwalUNetOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& noise_labels, const torch::Tensor& class_labels,
                        const torch::Tensor& augment_labels);

 private:
  DhariwalUNetOptions options_;
  PositionalEmbedding map_noise{nullptr};
  EdmLinear map_augment{nullptr}, map_layer0{nullptr}, map_layer1{nullptr}, map_label{nullptr};
  std::shared_ptr<torch::nn::Module> enc_, dec_;
  EdmConv2d enc_conv_{nullptr};
  std::vector<UNetBlock> enc_blocks_, dec_blocks_;
  EdmGroupNorm out_norm{nullptr};
  EdmConv2d out_conv{nullptr};
};
TORCH_MODULE(DhariwalUNet);

}  // namespace cmbench

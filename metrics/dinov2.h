// DINOv2 ViT-L/14 feature extractor for FD_DINOv2 as EDM2's calculate_metrics.py computes it: the
// network torch.hub builds as facebookresearch/dinov2 `dinov2_vitl14` (reimplemented natively in
// LibTorch, parameters under the official state-dict names) and EDM2's DINOv2 detector preprocessing.
//
// Network (Dinov2Options defaults): patch 14 (Conv2d 3 -> 1024, stride 14, bias), class token,
// position embedding for the 518 x 518 training size (37 x 37 patches + the class token), `depth`
// pre-norm blocks x + ls1(attn(norm1(x))), x + ls2(mlp(norm2(x))) with LayerNorm eps 1e-6,
// 16-head attention (fused qkv Linear with bias, scale head_dim^-1/2, proj Linear), MLP fc1 (1024 ->
// 4096) + exact GELU + fc2, LayerScale gamma on both residual branches, final LayerNorm; the output is
// the normed class token (`x_norm_clstoken`, 1024-d). mask_token is part of the state dict (and
// loaded) but unused at inference, as in the official model.
//
// Position embedding for an input of H x W pixels (H, W multiples of 14): the stored table when the
// grid is 37 x 37 and H == W; otherwise the 37 x 37 patch part (as float32) is resized with bicubic
// interpolation (A = -0.75, align_corners false, no antialias) to (H/14, W/14) by scale factors
// ((H/14 + 0.1) / 37, (W/14 + 0.1) / 37), passed to the kernel as scales (not recomputed from the
// sizes), and the class-token entry is prepended.
//
// Preprocessing (EDM2's DINOv2 detector, resize_mode 'torch'): uint8 (N, H, W, C) with C = 1 or 3
// (one channel is repeated) -> float32 NCHW -> bicubic resize to 224 x 224 with antialias = true on
// the 0..255 values (torch.nn.functional.interpolate; its antialiased bicubic is the A = -0.5 kernel,
// widened by the downsampling factor, weights renormalized where the support leaves the image; the
// identity at 224 x 224), always applied ->
// x / 255 -> (x - mean) / std with ImageNet mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
// 224 x 224 gives a 16 x 16 patch grid, so the position embedding is always interpolated.
//
// Weights: an .npz whose arrays are the official state dict (`cls_token` [1, 1, 1024], `pos_embed`
// [1, 1370, 1024], `mask_token` [1, 1024], `patch_embed.proj.{weight,bias}`, `blocks.I.norm1.*`,
// `blocks.I.attn.qkv.*`, `blocks.I.attn.proj.*`, `blocks.I.ls1.gamma`, `blocks.I.norm2.*`,
// `blocks.I.mlp.fc1.*`, `blocks.I.mlp.fc2.*`, `blocks.I.ls2.gamma`, `norm.{weight,bias}`; 343 arrays at
// depth 24), made from the public dinov2_vitl14_pretrain.pth by scripts/convert-dinov2-weights.
// Every array is required, with the right shape; any other array is an error.
//
// Synthetic weights `synthetic:SEED` (tests only; SEED in [0, 2^32 - 1]): element i (flat row-major)
// of the tensor named K uses the hash u = synthetic_hash(K, SEED, i) / 2^32 of METRICS.md §1
// (metrics/inception.h: fnv1a32 of K's ASCII bytes mixed with SEED, then the murmur3 finalizer of
// h + i * 0x9E3779B9), a double in [0, 1); each value is computed in double and stored as float32:
//   cls_token, pos_embed, mask_token ("token"):      2u - 1
//   any other *.weight of a Linear/Conv ("weight"):  (2u - 1) sqrt(3 / fan_in), fan_in = the product
//                                                    of the dimensions after the first (unit gain)
//   norm1/norm2/norm .weight ("norm_weight"):        0.8 + 0.4u
//   every *.bias ("bias"):                           0.1 (2u - 1)
//   ls1.gamma, ls2.gamma ("gamma"):                  0.05 + 0.1u
// Values do not depend on `depth` (a tensor's values depend only on its name, the seed and i).
//
// Checked against the official code (inputs, commits, differences): tests/data/dinov2/README.md.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cmbench {

struct Dinov2Options {
  TORCH_ARG(int64_t, depth) = 24;  // transformer blocks (fewer for tests)
  TORCH_ARG(int64_t, embed_dim) = 1024;
  TORCH_ARG(int64_t, num_heads) = 16;
  TORCH_ARG(int64_t, mlp_ratio) = 4;
  TORCH_ARG(int64_t, patch_size) = 14;
  TORCH_ARG(int64_t, img_size) = 518;  // the position embedding's native size (37 x 37 patches)
};

// Scales its input by a learned per-channel gamma.
class Dinov2LayerScaleImpl : public torch::nn::Module {
 public:
  explicit Dinov2LayerScaleImpl(int64_t dim);
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
  torch::Tensor gamma;
};
TORCH_MODULE(Dinov2LayerScale);

class Dinov2AttentionImpl : public torch::nn::Module {
 public:
  Dinov2AttentionImpl(int64_t dim, int64_t num_heads);
  torch::Tensor forward(const torch::Tensor& x);  // (B, N, C) -> (B, N, C)
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t num_heads_;
  double scale_;
};
TORCH_MODULE(Dinov2Attention);

class Dinov2MlpImpl : public torch::nn::Module {
 public:
  Dinov2MlpImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x) { return fc2->forward(torch::gelu(fc1->forward(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Dinov2Mlp);

class Dinov2BlockImpl : public torch::nn::Module {
 public:
  explicit Dinov2BlockImpl(const Dinov2Options& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Dinov2Attention attn{nullptr};
  Dinov2LayerScale ls1{nullptr}, ls2{nullptr};
  Dinov2Mlp mlp{nullptr};
};
TORCH_MODULE(Dinov2Block);

class Dinov2PatchEmbedImpl : public torch::nn::Module {
 public:
  Dinov2PatchEmbedImpl(int64_t patch_size, int64_t embed_dim);
  // (B, 3, H, W) -> (B, (H / p) * (W / p), D), patches in row-major grid order.
  torch::Tensor forward(const torch::Tensor& x) { return proj->forward(x).flatten(2).transpose(1, 2); }
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(Dinov2PatchEmbed);

class Dinov2Impl : public torch::nn::Module {
 public:
  explicit Dinov2Impl(const Dinov2Options& options = {});
  // x: float32 (N, 3, H, W) after preprocessing, H and W multiples of patch_size -> the normed class
  // token (N, embed_dim). InputError for another shape.
  torch::Tensor forward(const torch::Tensor& x);
  // The position embedding (1, 1 + (H/p) (W/p), D) for an input of H x W pixels (see the top of this file).
  torch::Tensor interpolate_pos_encoding(int64_t height, int64_t width);

  // The state-dict entries under the official names, in registration order.
  std::vector<std::pair<std::string, torch::Tensor>> state_tensors();
  // Copies `tensors` (name -> values, any floating dtype) into the network. InputError naming
  // `source` for a missing name, a wrong shape, a non-float tensor or an unknown name.
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& tensors, const std::string& source);
  // eval mode, no gradients: call after loading, before forward.
  void prepare_for_inference();

  const Dinov2Options& options() const { return options_; }

  torch::Tensor cls_token, pos_embed, mask_token;
  Dinov2PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  Dinov2Options options_;
};
TORCH_MODULE(Dinov2);

// The synthetic-weights rule of a state-dict name: token, weight, norm_weight, bias, gamma.
std::string dinov2_synthetic_rule(const std::string& name);
// Fills every state tensor of `net` (CPU float32, as constructed) in place from synthetic:SEED (rule at
// the top of this file).
void fill_dinov2_synthetic_weights(Dinov2& net, uint32_t seed);
// Reads an .npz holding the official state dict into `net`.
void load_dinov2_npz(Dinov2& net, const std::string& path);

// Where to get the real weights and how to convert them (one line).
std::string dinov2_missing_weights_message();
// A network from a weights spec: an .npz of the official state dict or synthetic:SEED; ready for
// inference on the CPU. InputError for an empty spec, a missing file (with where to get it), a .pth
// (convert it first) or a bad file.
Dinov2 load_dinov2(const std::string& weights, int64_t depth = 24);

// EDM2's preprocessing: uint8 (N, H, W, 1 or 3), any device -> float32 (N, 3, 224, 224) on that device.
torch::Tensor preprocess_for_dinov2(const torch::Tensor& images_nhwc);
// uint8 (N, H, W, 1 or 3) images -> (N, embed_dim) float32 features on the CPU, computed on the
// network's device (images are moved there). TF32 is the caller's choice (the FID detector turns it off).
torch::Tensor dinov2_features(Dinov2& net, const torch::Tensor& images_nhwc);

}  // namespace cmbench

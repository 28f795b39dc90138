#include "metrics/dinov2.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/named_weights.h"

namespace cmbench {

namespace F = torch::nn::functional;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

torch::nn::LayerNorm layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6));
}


}  // namespace

Dinov2LayerScaleImpl::Dinov2LayerScaleImpl(int64_t dim) {
  gamma = register_parameter("gamma", torch::full({dim}, 1e-5, torch::kFloat32));
}

Dinov2AttentionImpl::Dinov2AttentionImpl(int64_t dim, int64_t num_heads)
    : num_heads_(num_heads), scale_(std::pow(static_cast<double>(dim / num_heads), -0.5)) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(true)));
  proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(true)));
}

torch::Tensor Dinov2AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  // (B, N, 3, heads, head_dim) -> (3, B, heads, N, head_dim)
  const auto qkv_heads = qkv->forward(x).reshape({b, n, 3, num_heads_, c / num_heads_}).permute({2, 0, 3, 1, 4});
  const auto q = qkv_heads[0] * scale_;
  const auto attn = torch::matmul(q, qkv_heads[1].transpose(-2, -1)).softmax(-1);
  const auto y = torch::matmul(attn, qkv_heads[2]).transpose(1, 2).reshape({b, n, c});
  return proj->forward(y);
}

Dinov2MlpImpl::Dinov2MlpImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

Dinov2BlockImpl::Dinov2BlockImpl(const Dinov2Options& o) {
  norm1 = register_module("norm1", layer_norm(o.embed_dim()));
  attn = register_module("attn", Dinov2Attention(o.embed_dim(), o.num_heads()));
  ls1 = register_module("ls1", Dinov2LayerScale(o.embed_dim()));
  norm2 = register_module("norm2", layer_norm(o.embed_dim()));
  mlp = register_module("mlp", Dinov2Mlp(o.embed_dim(), o.embed_dim() * o.mlp_ratio()));
  ls2 = register_module("ls2", Dinov2LayerScale(o.embed_dim()));
}

torch::Tensor Dinov2BlockImpl::forward(const torch::Tensor& x) {
  auto h = x + ls1->forward(attn->forward(norm1->forward(x)));
  return h + ls2->forward(mlp->forward(norm2->forward(h)));
}

Dinov2PatchEmbedImpl::Dinov2PatchEmbedImpl(int64_t patch_size, int64_t embed_dim) {
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, embed_dim, patch_size).stride(patch_size).bias(true)));
}

Dinov2Impl::Dinov2Impl(const Dinov2Options& o) : options_(o) {
  if (o.depth() < 1 || o.embed_dim() < 1 || o.num_heads() < 1 || o.embed_dim() % o.num_heads() != 0 ||
      o.patch_size() < 1 || o.img_size() % o.patch_size() != 0) {
    throw InputError(fmt::format("DINOv2: invalid options (depth {}, embed_dim {}, num_heads {}, patch {}, size {})",
                                 o.depth(), o.embed_dim(), o.num_heads(), o.patch_size(), o.img_size()));
  }
  const int64_t grid = o.img_size() / o.patch_size();
  const int64_t d = o.embed_dim();
  // Registration order follows the official module: tokens, patch_embed, blocks, norm, mask_token.
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, d}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, grid * grid + 1, d}));
  patch_embed = register_module("patch_embed", Dinov2PatchEmbed(o.patch_size(), d));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.depth(); ++i) blocks->push_back(Dinov2Block(o));
  norm = register_module("norm", layer_norm(d));
  mask_token = register_parameter("mask_token", torch::zeros({1, d}));
}

torch::Tensor Dinov2Impl::interpolate_pos_encoding(int64_t height, int64_t width) {
  const int64_t p = options_.patch_size();
  const int64_t grid = options_.img_size() / p;
  const int64_t h0 = height / p, w0 = width / p;
  if (h0 * w0 == grid * grid && height == width) return pos_embed;
  const int64_t d = pos_embed.size(2);
  const auto table = pos_embed.to(torch::kFloat32);
  const auto class_entry = table.select(1, 0).unsqueeze(0);  // (1, 1, D)
  const auto patches = table.slice(1, 1).reshape({1, grid, grid, d}).permute({0, 3, 1, 2});
  // Scale factors with the +0.1 offset of the official model; the kernel maps coordinates by
  // 1 / scale, and the output size is floor(grid * scale) = (h0, w0).
  const double sy = (static_cast<double>(h0) + 0.1) / static_cast<double>(grid);
  const double sx = (static_cast<double>(w0) + 0.1) / static_cast<double>(grid);
  auto resized = F::interpolate(patches, F::InterpolateFuncOptions()
                                             .scale_factor(std::vector<double>{sy, sx})
                                             .mode(torch::kBicubic)
                                             .align_corners(false)
                                             .recompute_scale_factor(false)
                                             .antialias(false));
  if (resized.size(2) != h0 || resized.size(3) != w0) {
    throw InputError(fmt::format("DINOv2: position-embedding interpolation gave {}x{}, expected {}x{}",
                                 resized.size(2), resized.size(3), h0, w0));
  }
  resized = resized.permute({0, 2, 3, 1}).reshape({1, h0 * w0, d});
  return torch::cat({class_entry, resized}, 1).to(pos_embed.dtype());
}

torch::Tensor Dinov2Impl::forward(const torch::Tensor& x) {
  const int64_t p = options_.patch_size();
  if (x.dim() != 4 || x.size(1) != 3 || x.size(2) < p || x.size(3) < p || x.size(2) % p != 0 ||
      x.size(3) % p != 0) {
    throw InputError(fmt::format("DINOv2: input must be (N, 3, H, W) with H and W multiples of {}, found {}", p,
                                 fmt::join(x.sizes(), "x")));
  }
  if (!x.is_floating_point()) throw InputError("DINOv2: input must be floating point (preprocessed)");
  auto tokens = patch_embed->forward(x);
  tokens = torch::cat({cls_token.expand({tokens.size(0), -1, -1}), tokens}, 1);
  tokens = tokens + interpolate_pos_encoding(x.size(2), x.size(3));
  for (const auto& block : *blocks) tokens = block->as<Dinov2BlockImpl>()->forward(tokens);
  return norm->forward(tokens).select(1, 0);
}

std::vector<std::pair<std::string, torch::Tensor>> Dinov2Impl::state_tensors() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters(true)) out.emplace_back(item.key(), item.value());
  for (const auto& item : named_buffers(true)) out.emplace_back(item.key(), item.value());
  return out;
}

void Dinov2Impl::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                            const std::string& source) {
  std::map<std::string, torch::Tensor> given(tensors.begin(), tensors.end());
  copy_named_weights(given, state_tensors(),
                     {source, "DINOv2 weights",
                      "(the official dinov2_vitl14 state-dict names expected; convert with scripts/convert-dinov2-weights)",
                      fmt::format("DINOv2 ViT-L/14 at depth {}", options_.depth())});
}

void Dinov2Impl::prepare_for_inference() {
  eval();
  for (auto& p : parameters()) p.set_requires_grad(false);
}

std::string dinov2_synthetic_rule(const std::string& name) {
  if (name == "cls_token" || name == "pos_embed" || name == "mask_token") return "token";
  if (ends_with(name, ".gamma")) return "gamma";
  if (ends_with(name, ".bias")) return "bias";
  if (ends_with(name, ".weight")) {
    // The module owning the weight: norm, norm1, norm2 are LayerNorms.
    const std::string owner_path = name.substr(0, name.size() - std::string(".weight").size());
    const auto dot = owner_path.rfind('.');
    const std::string owner = dot == std::string::npos ? owner_path : owner_path.substr(dot + 1);
    if (owner.rfind("norm", 0) == 0) return "norm_weight";
    return "weight";
  }
  throw InputError(fmt::format("DINOv2 synthetic weights: no rule for tensor '{}'", name));
}

void fill_dinov2_synthetic_weights(Dinov2& net, uint32_t seed) {
  enum class Rule { token, weight, norm_weight, bias, gamma };
  torch::NoGradGuard no_grad;
  // Written in place (the network is 1.2 GB at full depth); CPU float32 as constructed.
  for (auto& [name, target] : net->state_tensors()) {
    if (!target.is_cpu() || target.scalar_type() != torch::kFloat32 || !target.is_contiguous()) {
      throw InputError(fmt::format("DINOv2 synthetic weights: tensor '{}' is not a contiguous CPU float32 tensor", name));
    }
    const std::string rule_name = dinov2_synthetic_rule(name);
    const Rule rule = rule_name == "token"         ? Rule::token
                      : rule_name == "weight"      ? Rule::weight
                      : rule_name == "norm_weight" ? Rule::norm_weight
                      : rule_name == "bias"        ? Rule::bias
                                                   : Rule::gamma;
    double fan_in = 1.0;
    for (int64_t d = 1; d < target.dim(); ++d) fan_in *= static_cast<double>(target.size(d));
    const double weight_scale = std::sqrt(3.0 / fan_in);
    // synthetic_hash(name, seed, i) (core/synthetic_hash.h) with the per-name part hoisted out of the loop.
    uint32_t h = 2166136261u;
    for (unsigned char c : name) {
      h ^= c;
      h *= 16777619u;
    }
    h ^= (seed + 1u) * 0x85EBCA6Bu;
    float* out = target.data_ptr<float>();
    at::parallel_for(0, target.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        uint32_t x = h + static_cast<uint32_t>(i) * 0x9E3779B9u;
        x ^= x >> 16;
        x *= 0x85EBCA6Bu;
        x ^= x >> 13;
        x *= 0xC2B2AE35u;
        x ^= x >> 16;
        const double u = x / 4294967296.0;
        double v;
        switch (rule) {
          case Rule::token: v = 2 * u - 1; break;
          case Rule::weight: v = (2 * u - 1) * weight_scale; break;
          case Rule::norm_weight: v = 0.8 + 0.4 * u; break;
          case Rule::bias: v = 0.1 * (2 * u - 1); break;
          default: v = 0.05 + 0.1 * u; break;
        }
        out[i] = static_cast<float>(v);
      }
    });
  }
}

void load_dinov2_npz(Dinov2& net, const std::string& path) {
  const auto arrays = read_npz(path);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [name, array] : arrays) {
    if (array.dtype != DType::f32 && array.dtype != DType::f64) {
      throw InputError(fmt::format("{}: tensor '{}' has dtype {}, expected float32", path, name, dtype_name(array.dtype)));
    }
    tensors.emplace_back(name, to_tensor(array));
  }
  net->load_state(tensors, path);
}

std::string dinov2_missing_weights_message() {
  return "FD_DINOv2 needs the DINOv2 ViT-L/14 weights: download dinov2_vitl14_pretrain.pth "
         "(https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth), convert it once with "
         "'scripts/convert-dinov2-weights dinov2_vitl14_pretrain.pth dinov2_vitl14.npz' and pass the .npz";
}

Dinov2 load_dinov2(const std::string& weights, int64_t depth) {
  if (weights.empty()) throw InputError(dinov2_missing_weights_message());
  Dinov2 net(Dinov2Options().depth(depth));
  uint32_t seed;
  if (parse_synthetic_seed(weights, fmt::format("DINOv2 weights {}", weights), seed)) {
    fill_dinov2_synthetic_weights(net, seed);
  } else {
    if (!std::filesystem::is_regular_file(weights)) {
      const char* what = std::filesystem::exists(weights) ? "not a regular file" : "no such file";
      throw InputError(fmt::format("DINOv2 weights {}: {}; {}", weights, what, dinov2_missing_weights_message()));
    }
    if (ends_with(weights, ".pth") || ends_with(weights, ".pt")) {
      throw InputError(fmt::format("DINOv2 weights {}: a PyTorch checkpoint; convert it once with "
                                   "'scripts/convert-dinov2-weights {} dinov2_vitl14.npz' and pass the .npz",
                                   weights, weights));
    }
    load_dinov2_npz(net, weights);
  }
  net->prepare_for_inference();
  return net;
}

torch::Tensor preprocess_for_dinov2(const torch::Tensor& images_nhwc) {
  if (images_nhwc.dim() != 4 || (images_nhwc.size(3) != 1 && images_nhwc.size(3) != 3)) {
    throw InputError(fmt::format("DINOv2 preprocessing: images must be (N, H, W, 1 or 3), found {}",
                                 fmt::join(images_nhwc.sizes(), "x")));
  }
  if (images_nhwc.scalar_type() != torch::kUInt8) {
    throw InputError("DINOv2 preprocessing: images must be uint8");
  }
  auto x = images_nhwc.permute({0, 3, 1, 2});
  if (x.size(1) == 1) x = x.expand({-1, 3, -1, -1});
  x = x.to(torch::kFloat32).contiguous();
  x = F::interpolate(x, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{224, 224})
                            .mode(torch::kBicubic)
                            .align_corners(false)
                            .antialias(true));
  x = x / 255;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(x.device());
  x = x - torch::tensor({0.485f, 0.456f, 0.406f}, opts).view({1, 3, 1, 1});
  x = x / torch::tensor({0.229f, 0.224f, 0.225f}, opts).view({1, 3, 1, 1});
  return x;
}

torch::Tensor dinov2_features(Dinov2& net, const torch::Tensor& images_nhwc) {
  torch::NoGradGuard no_grad;
  const auto device = net->cls_token.device();
  const auto x = preprocess_for_dinov2(images_nhwc.to(device));
  return net->forward(x).to(torch::kFloat32).to(torch::kCPU).contiguous();
}

}  // namespace cmbench

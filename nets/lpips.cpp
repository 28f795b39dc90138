#include "nets/lpips.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/synthetic_hash.h"

namespace cmbench {

namespace F = torch::nn::functional;

namespace {

// torchvision's vgg16 configuration "D" up to relu5_3: output channels of each convolution, 0 for
// a pooling layer. The taps follow the last ReLU before each pooling layer and the last ReLU.
const std::vector<int64_t> kVggLayers = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512};
const std::vector<int64_t> kTapChannels = {64, 128, 256, 512, 512};

bool is_head(const std::string& name) { return name.rfind("lin", 0) == 0; }

}  // namespace

LpipsProtocol parse_lpips_protocol(const std::string& name, const std::string& label) {
  if (name == "lpips") return LpipsProtocol::lpips;
  if (name == "openai-cm") return LpipsProtocol::openai_cm;
  throw InputError(fmt::format("{} '{}': expected lpips or openai-cm", label, name));
}

std::string lpips_protocol_name(LpipsProtocol protocol) {
  return protocol == LpipsProtocol::lpips ? "lpips" : "openai-cm";
}

LpipsImpl::LpipsImpl(const LpipsOptions& options) : options_(options) {
  features_ = register_module("features", torch::nn::Sequential());
  int64_t channels = 3;
  for (const int64_t out : kVggLayers) {
    if (out == 0) {
      // piq's replace_pooling swaps every MaxPool2d for AvgPool2d(2, 2).
      if (options_.protocol() == LpipsProtocol::openai_cm) features_->push_back(torch::nn::AvgPool2d(2));
      else features_->push_back(torch::nn::MaxPool2d(2));
      continue;
    }
    features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, out, 3).padding(1)));
    features_->push_back(torch::nn::ReLU());
    channels = out;
  }
  for (size_t i = 0; i < features_->size(); ++i) {
    const bool before_pool = i + 1 == features_->size() || features_[i + 1]->as<torch::nn::Conv2d>() == nullptr;
    if (features_[i]->as<torch::nn::ReLU>() != nullptr && before_pool) tap_layers_.push_back(i);
  }
  heads_ = register_module("lins", torch::nn::ModuleList());
  for (const int64_t c : kTapChannels) heads_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 1, 1).bias(false)));
  if (options_.protocol() == LpipsProtocol::lpips) {
    // lpips.py ScalingLayer
    shift_ = register_buffer("shift", torch::tensor({-.030f, -.088f, -.188f}).view({1, 3, 1, 1}));
    scale_ = register_buffer("scale", torch::tensor({.458f, .448f, .450f}).view({1, 3, 1, 1}));
  } else {
    // piq's IMAGENET_MEAN / IMAGENET_STD, applied to (x + 1) / 2
    shift_ = register_buffer("shift", torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1}));
    scale_ = register_buffer("scale", torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1}));
  }
}

torch::Tensor LpipsImpl::prepare(const torch::Tensor& images) const {
  if (options_.protocol() == LpipsProtocol::lpips) return (images - shift_) / scale_;
  auto x = images;
  if (x.size(-1) < 256) {
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{224, 224})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  return ((x + 1) / 2.0 - shift_) / scale_;
}

std::vector<torch::Tensor> LpipsImpl::taps(const torch::Tensor& prepared) {
  std::vector<torch::Tensor> out;
  auto h = prepared;
  size_t index = 0;
  for (auto& layer : *features_) {
    h = layer.forward(h);
    if (std::find(tap_layers_.begin(), tap_layers_.end(), index) != tap_layers_.end()) out.push_back(h);
    ++index;
  }
  return out;
}

torch::Tensor LpipsImpl::forward(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() != 4 || a.size(1) != 3 || a.sizes() != b.sizes()) {
    throw InputError(fmt::format("LPIPS: images must be two batches (N, 3, H, W) of one shape, got [{}] and [{}]",
                                 fmt::join(a.sizes(), ", "), fmt::join(b.sizes(), ", ")));
  }
  const auto weight = heads_[0]->as<torch::nn::Conv2d>()->weight;
  const auto n = a.size(0);
  const auto prepared = prepare(torch::cat({a, b}).to(weight.options()));
  if (prepared.size(2) < 16 || prepared.size(3) < 16) {
    throw InputError(fmt::format("LPIPS: images of {}x{} are too small; VGG16's four poolings need at least 16x16",
                                 prepared.size(2), prepared.size(3)));
  }
  const auto features = taps(prepared);
  torch::Tensor total;
  for (size_t k = 0; k < features.size(); ++k) {
    // lpips.normalize_tensor (eps 1e-10), as piq's ContentLoss.normalize
    const auto unit = features[k] / (features[k].square().sum(1, true).sqrt() + 1e-10);
    const auto difference = (unit.narrow(0, 0, n) - unit.narrow(0, n, n)).square();
    const auto layer = heads_[k]->as<torch::nn::Conv2d>()->forward(difference).mean({2, 3}).flatten();
    total = total.defined() ? total + layer : layer;
  }
  return total.to(a.scalar_type());
}

std::vector<std::pair<std::string, torch::Tensor>> LpipsImpl::named_weights() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : features_->named_parameters()) out.emplace_back("features." + item.key(), item.value());
  for (size_t k = 0; k < heads_->size(); ++k)
    out.emplace_back(fmt::format("lin{}.model.1.weight", k), heads_[k]->as<torch::nn::Conv2d>()->weight);
  return out;
}

std::string lpips_weights_help() {
  return "LPIPS needs VGG16 weights: download torchvision's https://download.pytorch.org/models/vgg16-397923af.pth "
         "and the lpips package's weights/v0.1/vgg.pth "
         "(https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth), convert them "
         "once with 'scripts/convert-lpips-weights --vgg vgg16-397923af.pth --lin vgg.pth --out lpips_vgg.npz' and "
         "pass the .npz";
}

void fill_lpips_synthetic_weights(LpipsImpl& net, uint32_t seed) {
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : net.named_weights()) {
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const double fan_in = static_cast<double>(tensor[0].numel());
    std::vector<float> values(static_cast<size_t>(tensor.numel()));
    for (size_t i = 0; i < values.size(); ++i) {
      const double u = synthetic_hash(name, seed, static_cast<uint32_t>(i)) / 4294967296.0;
      double v;
      if (is_head(name)) v = 0.2 * u;
      else if (bias) v = 0.1 * (2 * u - 1);
      else v = (2 * u - 1) * std::sqrt(6.0 / fan_in);
      values[i] = static_cast<float>(v);
    }
    tensor.copy_(torch::from_blob(values.data(), tensor.sizes(), torch::kFloat32));
  }
}

void load_lpips_npz(LpipsImpl& net, const std::string& path) {
  const auto arrays = read_npz(path);
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : net.named_weights()) {
    const auto it = arrays.find(name);
    if (it == arrays.end()) {
      throw InputError(fmt::format("{}: LPIPS weights lack '{}' (torchvision vgg16 features.N and lpips linK.model.1 "
                                   "names expected; see scripts/convert-lpips-weights)", path, name));
    }
    const auto& array = it->second;
    if (array.dtype != DType::f32)
      throw InputError(fmt::format("{}: '{}' has dtype {}, expected float32", path, name, dtype_name(array.dtype)));
    if (array.shape != tensor.sizes().vec()) {
      throw InputError(fmt::format("{}: '{}' has shape {}, expected ({})", path, name, array.shape_string(),
                                   fmt::join(tensor.sizes(), ", ")));
    }
    const auto value = to_tensor(array);
    if (!torch::isfinite(value).all().item<bool>())
      throw InputError(fmt::format("{}: '{}' holds values that are not finite", path, name));
    tensor.copy_(value);
    used.insert(name);
  }
  for (const auto& [name, array] : arrays) {
    if (!used.count(name)) throw InputError(fmt::format("{}: unexpected key '{}' (not an LPIPS VGG weight)", path, name));
  }
}

Lpips load_lpips(const std::string& weights, const LpipsOptions& options, const std::string& label) {
  if (weights.empty()) throw InputError(fmt::format("{}: not given; {}", label, lpips_weights_help()));
  Lpips net(options);
  const std::string synthetic = "synthetic:";
  if (weights.rfind(synthetic, 0) == 0) {
    const auto digits = weights.substr(synthetic.size());
    if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoull(digits) > 0xffffffffull)
      throw InputError(fmt::format("{} '{}': the seed must be an integer in [0, 2^32 - 1]", label, weights));
    fill_lpips_synthetic_weights(*net, static_cast<uint32_t>(std::stoull(digits)));
  } else {
    if (!std::filesystem::is_regular_file(weights)) {
      const char* what = std::filesystem::exists(weights) ? "not a regular file" : "no such file";
      throw InputError(fmt::format("{} '{}': {}; {}", label, weights, what, lpips_weights_help()));
    }
    const auto extension = std::filesystem::path(weights).extension();
    if (extension == ".pth" || extension == ".pt") {
      throw InputError(fmt::format("{} '{}': a PyTorch checkpoint; convert it with scripts/convert-lpips-weights "
                                   "(--vgg vgg16-397923af.pth --lin vgg.pth --out lpips_vgg.npz) and pass the .npz",
                                   label, weights));
    }
    load_lpips_npz(*net, weights);
  }
  for (auto& parameter : net->parameters()) parameter.requires_grad_(false);
  net->eval();
  return net;
}

}  // namespace cmbench

#include "metrics/vgg16_detector.h"

#include <torch/script.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/device.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "metrics/detector.h"
#include "metrics/features.h"
#include "metrics/named_weights.h"
#include "metrics/torchscript_pickles.h"

namespace cmbench {

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// StyleGAN3 and EDM name a pickle (vgg16.pkl) that LibTorch cannot read; say how to get a .pt instead.
std::string pickle_hint(const std::string& path) {
  if (!ends_with(path, ".pkl")) return "";
  return "; a .pkl is a Python pickle: convert it with scripts/convert-edm-detector, or download vgg16.pt";
}

}  // namespace

std::string missing_vgg16_message() {
  return fmt::format("precision/recall with the stylegan2-ada protocol needs NVIDIA's TorchScript VGG16: download "
                     "{} and pass --vgg16 FILE (or set CMBENCH_VGG16=FILE)",
                     kVgg16Url);
}

std::string resolve_vgg16_weights(const std::string& explicit_path) {
  auto weights = weights_spec_or_environment(explicit_path, "CMBENCH_VGG16");
  if (weights.empty()) throw InputError(missing_vgg16_message());
  return weights;
}

Vgg16Detector::Vgg16Detector(const Vgg16DetectorOptions& options)
    : weights_(resolve_vgg16_weights(options.weights())), device_(resolve_device(options.device())) {
  const std::string label = (options.weights().empty() ? "CMBENCH_VGG16=" : "--vgg16 ") + weights_;
  if (!std::filesystem::is_regular_file(weights_)) {
    throw InputError(fmt::format("{}: no such file; {}", label, missing_vgg16_message()));
  }
  checksum_ = file_digest_hex(Digest::Kind::sha256, weights_);
  check_torchscript_pickles(weights_, label);
  try {
    module_ = std::make_unique<torch::jit::Module>(torch::jit::load(weights_, device_));
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}: not a loadable TorchScript VGG16 ({}){}", label, first_line(e.what()),
                                 pickle_hint(weights_)));
  }
  check_module_tensors(*module_, weights_, label);
  module_->eval();
  if (device_.is_cuda()) compat::disable_tf32();  // float32 features, as for FID
}

Vgg16Detector::~Vgg16Detector() = default;
Vgg16Detector::Vgg16Detector(Vgg16Detector&&) noexcept = default;
Vgg16Detector& Vgg16Detector::operator=(Vgg16Detector&&) noexcept = default;

torch::Tensor Vgg16Detector::run(const torch::Tensor& images_nhwc) {
  if (images_nhwc.dim() != 4 || images_nhwc.scalar_type() != torch::kUInt8 ||
      (images_nhwc.size(3) != 1 && images_nhwc.size(3) != 3)) {
    throw InputError(fmt::format("VGG16 detector: images must be uint8 (N, H, W, 1 or 3), got {} [{}]",
                                 c10::toString(images_nhwc.scalar_type()), fmt::join(images_nhwc.sizes(), ", ")));
  }
  torch::NoGradGuard no_grad;
  auto img = images_nhwc.to(device_).permute({0, 3, 1, 2});
  if (img.size(1) == 1) img = img.expand({-1, 3, -1, -1});
  img = img.contiguous();
  torch::Tensor features;
  try {
    features = module_->forward({img}, {{"return_features", true}}).toTensor();
  } catch (const std::exception& e) {  // c10::Error, or std::runtime_error from argument matching
    throw InputError(fmt::format("{}: the VGG16 detector failed on a batch of shape [{}] ({})", weights_,
                                 fmt::join(img.sizes(), ", "), first_line(e.what())));
  }
  if (features.dim() != 2 || features.size(0) != img.size(0) || features.size(1) != kVgg16FeatureWidth) {
    throw InputError(fmt::format("{}: the VGG16 detector returned features of shape [{}], expected [{}, {}]",
                                 weights_, fmt::join(features.sizes(), ", "), img.size(0), kVgg16FeatureWidth));
  }
  return features.to(torch::kCPU, torch::kFloat32).contiguous();
}

nlohmann::json Vgg16Detector::describe() const {
  return {{"detector", "vgg16-torchscript"}, {"weights", weights_}, {"weights_sha256", checksum_}};
}

std::unique_ptr<Vgg16Detector> make_vgg16_detector(const Vgg16DetectorOptions& options) {
  return std::make_unique<Vgg16Detector>(options);
}

torch::Tensor extract_vgg16_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                     Vgg16Detector& detector, int64_t batch, ProcessGroup* group) {
  const BatchFeatureRun network{{kVgg16FeatureWidth},
                                [&](const torch::Tensor& images) { return std::vector<torch::Tensor>{detector.run(images)}; }};
  std::vector<torch::Tensor> parts;
  extract_batches(source, indices, network, ExtractionOptions().batch(batch).label("vgg16 " + source.name()),
                  [&](const std::vector<torch::Tensor>& outputs) { parts.push_back(outputs[0]); }, group);
  return torch::cat(parts, 0);
}

}  // namespace cmbench

// The feature network of StyleGAN2-ADA's precision/recall (pr50k3, the stylegan2_ada protocol of
// precision_recall.h): NVIDIA's TorchScript VGG16 `vgg16.pt`, called as the reference calls it,
// detector(images uint8 NCHW with 3 channels, return_features=True) -> (N, 4096) features.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/process_group.h"
#include "data/image_source.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace cmbench {

inline constexpr int64_t kVgg16FeatureWidth = 4096;
inline constexpr const char* kVgg16Url =
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt";

struct Vgg16DetectorOptions {
  // The TorchScript vgg16.pt; empty = $CMBENCH_VGG16, else an InputError saying where to download it.
  TORCH_ARG(std::string, weights) = "";
  TORCH_ARG(std::string, device) = "cpu";
};

class Vgg16Detector {
 public:
  // InputError (one line naming the file) when the file is missing or not a loadable TorchScript module.
  explicit Vgg16Detector(const Vgg16DetectorOptions& options);
  ~Vgg16Detector();
  Vgg16Detector(Vgg16Detector&&) noexcept;
  Vgg16Detector& operator=(Vgg16Detector&&) noexcept;

  // uint8 (N, H, W, 1 or 3) -> float32 (N, 4096) on the CPU; grayscale is repeated to 3 channels.
  // InputError when the module fails on the batch or returns another shape.
  torch::Tensor run(const torch::Tensor& images_nhwc);
  // detector "vgg16-torchscript", weights, weights_sha256.
  nlohmann::json describe() const;
  const std::string& weights() const { return weights_; }

 private:
  std::string weights_, checksum_;
  torch::Device device_;
  std::unique_ptr<torch::jit::Module> module_;
};

// The weights spec of `--vgg16 PATH`: `explicit_path`, else $CMBENCH_VGG16; InputError saying where to
// download vgg16.pt when both are empty.
std::string resolve_vgg16_weights(const std::string& explicit_path);

// The one-line help for missing VGG16 weights (the download address, --vgg16 and CMBENCH_VGG16).
std::string missing_vgg16_message();

std::unique_ptr<Vgg16Detector> make_vgg16_detector(const Vgg16DetectorOptions& options);

// The VGG16 features of the images at `indices`, float32 (indices.size(), 4096) on the CPU, row i for
// indices[i]. Batches of `batch` images; the next batch is read while the network runs. With a `group`
// of several ranks, batch k runs on rank k mod W and the rows are gathered, so every rank gets the
// one-process result (the same images in the same batches); every rank must call it. Progress goes to
// stderr on rank 0.
torch::Tensor extract_vgg16_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                     Vgg16Detector& detector, int64_t batch, ProcessGroup* group = nullptr);

}  // namespace cmbench

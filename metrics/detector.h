// Where FID/IS features come from: the native FID Inception (pytorch-fid-named .npz weights or
// synthetic:SEED) or NVIDIA's TorchScript detector inception-2015-12-05.pt (METRICS.md §1).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/inception.h"
#include "metrics/preprocess.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace cmbench {

struct DetectorOptions {
  // TorchScript .pt, pytorch-fid .npz, or synthetic:SEED; empty = $CMBENCH_INCEPTION, else an error
  // that says where to get the file.
  TORCH_ARG(std::string, weights) = "";
  TORCH_ARG(std::string, detector) = "";  // native | torchscript; empty = torchscript for .pt, else native
  TORCH_ARG(std::string, mode) = "";      // tf | pytorch; empty = tf (an explicit mode with torchscript is an error)
  TORCH_ARG(std::string, device) = "cpu";
};

class InceptionDetector {
 public:
  virtual ~InceptionDetector() = default;
  // uint8 (N, H, W, 1 or 3) -> pool3 (N, 2048) and, when asked, logits_unbiased (N, 1008) and the
  // sFID spatial features (N, 2023), float32 CPU. InputError when this detector lacks a layer asked for.
  virtual FidInceptionOutput run(const torch::Tensor& images_nhwc, InceptionLayers layers) = 0;
  FidInceptionOutput run(const torch::Tensor& images_nhwc, bool with_logits) {
    return run(images_nhwc, InceptionLayers{with_logits, false});
  }
  // Provenance recorded in statistics files and JSON: detector, mode, weights, weights_sha256.
  virtual nlohmann::json describe() const = 0;
};

// InputError (exit 2) for missing weights (naming where to get them), unreadable or mismatching files,
// and an explicit --mode with the TorchScript detector.
std::unique_ptr<InceptionDetector> make_detector(const DetectorOptions& options);

// The one-line help for missing weights.
std::string missing_weights_message();

// InputError starting with `label` when a tensor (parameter, buffer) of the TorchScript module loaded
// from `path` reaches past its storage, or a storage past the bytes the archive holds for it:
// torch::jit::load accepts sizes, strides and storage sizes that the file's data does not back.
void check_module_tensors(const torch::jit::Module& module, const std::string& path, const std::string& label);

// Native network from a weights spec (.npz or synthetic:SEED), ready for inference.
FidInception load_native_inception(const std::string& weights);

}  // namespace cmbench

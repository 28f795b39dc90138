// The DINOv2 feature detector of FD_DINOv2 (EDM2's calculate_metrics.py): the ViT-L/14 of
// metrics/dinov2.h on a device, with the provenance statistics files and stored rows record.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/dinov2.h"

namespace cmbench {

struct Dinov2DetectorOptions {
  // .npz of the official state dict (scripts/convert-dinov2-weights) or synthetic:SEED; empty =
  // $CMBENCH_DINOV2, else an error that says where to get the weights.
  TORCH_ARG(std::string, weights) = "";
  TORCH_ARG(std::string, device) = "cpu";
};

class Dinov2Detector {
 public:
  explicit Dinov2Detector(const Dinov2DetectorOptions& options);
  // uint8 (N, H, W, 1 or 3) -> the class token (N, 1024), float32 on the CPU.
  torch::Tensor run(const torch::Tensor& images_nhwc);
  // detector, preprocessing, weights, weights_sha256.
  nlohmann::json describe() const;

 private:
  std::string weights_, checksum_;
  Dinov2 net_{nullptr};
};

// The weights spec: `explicit_weights`, else $CMBENCH_DINOV2; InputError saying where to get them.
std::string resolve_dinov2_weights(const std::string& explicit_weights);

std::unique_ptr<Dinov2Detector> make_dinov2_detector(const Dinov2DetectorOptions& options);

}  // namespace cmbench

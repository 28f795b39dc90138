#include "metrics/dinov2_detector.h"

#include "core/device.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "metrics/named_weights.h"

namespace cmbench {

std::string resolve_dinov2_weights(const std::string& explicit_weights) {
  auto weights = weights_spec_or_environment(explicit_weights, "CMBENCH_DINOV2");
  if (weights.empty()) throw InputError(dinov2_missing_weights_message() + " (--dinov2-weights, or $CMBENCH_DINOV2)");
  return weights;
}

Dinov2Detector::Dinov2Detector(const Dinov2DetectorOptions& options)
    : weights_(resolve_dinov2_weights(options.weights())), net_(load_dinov2(weights_)) {
  checksum_ = weights_sha256(weights_, "DINOv2 weights " + weights_);  // after loading, which says what is wrong
  const auto device = resolve_device(options.device());
  net_->to(device);
  if (device.is_cuda()) compat::disable_tf32();  // fp32 features, as for FID
}

torch::Tensor Dinov2Detector::run(const torch::Tensor& images_nhwc) { return dinov2_features(net_, images_nhwc); }

nlohmann::json Dinov2Detector::describe() const {
  return {{"detector", "dinov2-vitl14"},
          {"mode", "edm2"},  // bicubic antialiased resize to 224, ImageNet mean and std
          {"weights", weights_},
          {"weights_sha256", checksum_}};
}

std::unique_ptr<Dinov2Detector> make_dinov2_detector(const Dinov2DetectorOptions& options) {
  return std::make_unique<Dinov2Detector>(options);
}

}  // namespace cmbench

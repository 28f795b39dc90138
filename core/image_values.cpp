#include "core/image_values.h"

namespace cmbench {

torch::Tensor quantize_values(const torch::Tensor& x) { return (x * 127.5 + 128).floor().clamp(0, 255).to(torch::kUInt8); }

torch::Tensor quantize_images(const torch::Tensor& x) { return quantize_values(x).permute({0, 2, 3, 1}).contiguous(); }

torch::Tensor dequantize_images(const torch::Tensor& images) {
  return images.to(torch::kFloat64).permute({0, 3, 1, 2}).contiguous() / 127.5 - 1.0;
}

}  // namespace cmbench

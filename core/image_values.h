// The one rule between network values and stored pixels (DESIGN.md "Formats"): generated images
// leave as uint8 by clamp(floor(x * 127.5 + 128), 0, 255), computed in x's own dtype (float64 for the
// samplers, as EDM's generate.py), and pixels come back as u / 127.5 - 1 (the bins' centres).
#pragma once

#include <torch/torch.h>

namespace cmbench {

torch::Tensor quantize_values(const torch::Tensor& x);     // any layout, uint8
torch::Tensor quantize_images(const torch::Tensor& x);     // float (N, C, H, W) -> uint8 (N, H, W, C)
torch::Tensor dequantize_images(const torch::Tensor& images);  // uint8 (N, H, W, C) -> float64 (N, C, H, W)

}  // namespace cmbench

// Image preprocessing for the FID Inception network (METRICS.md §2): uint8 NHWC in, float32
// (N, 3, 299, 299) out, batched as tensor ops (no per-image loops).
#pragma once

#include <torch/torch.h>

#include <string>

namespace cmbench {

enum class ResizeMode {
  tf,       // TF1 legacy bilinear (no half-pixel offset), then (x - 128) / 128: the papers' pipeline
  pytorch,  // x / 255, bilinear with align_corners = false, then 2x - 1: pytorch-fid
};

ResizeMode parse_resize_mode(const std::string& name);  // "tf" | "pytorch"; InputError otherwise
std::string resize_mode_name(ResizeMode mode);

// TF1 legacy bilinear resize of float32 NCHW to (out_h, out_w): src = i * (in / out) in float32,
// lo = floor(src), hi = min(lo + 1, in - 1); along x first, then y, each as a + (b - a) * w.
torch::Tensor tf_legacy_resize(const torch::Tensor& images, int64_t out_h, int64_t out_w);

// uint8 (N, H, W, C) with C = 1 or 3 -> float32 (N, 3, 299, 299) ready for FidInception.
torch::Tensor preprocess_for_inception(const torch::Tensor& images_nhwc, ResizeMode mode);

}  // namespace cmbench

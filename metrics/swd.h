// Sliced Wasserstein distance of Laplacian-pyramid patches (METRICS.md §5; Karras et al. 2018,
// PGGAN's metrics/sliced_wasserstein.py) with seeded neighborhood positions and directions, so that
// the metric is deterministic and identical sets give exactly 0. Needs no downloaded weights.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace cmbench {

struct SwdOptions {
  TORCH_ARG(int64_t, seed) = 0;
  TORCH_ARG(int64_t, nhoods_per_image) = 128;
  TORCH_ARG(int64_t, nhood_size) = 7;
  TORCH_ARG(int64_t, dir_repeats) = 4;
  TORCH_ARG(int64_t, dirs_per_repeat) = 128;
  TORCH_ARG(int64_t, min_resolution) = 16;
  // Memory and speed only, not the result (up to float32 rounding of the projections): images per
  // pyramid and projection batch, and directions projected and sorted together. Beyond the inputs,
  // memory is 2 sets x (n x 3 x side^2 x 4 bytes of the finest level + n x nhoods_per_image x
  // direction_chunk x 4 bytes of projections): 2.9 GB for 50k 32x32 images.
  TORCH_ARG(int64_t, image_batch) = 64;
  TORCH_ARG(int64_t, direction_chunk) = 32;
};

struct SwdResult {
  std::vector<double> levels;  // x 1e3, finest level first
  double average = 0.0;        // mean of levels
  std::vector<int64_t> resolutions;
};

// Gaussian 5x5 [1,4,6,4,1]^2/256 with mirror (reflect-101) borders, then every second pixel.
torch::Tensor pyr_down(const torch::Tensor& images);
// Zeros inserted, then the same filter x 4.
torch::Tensor pyr_up(const torch::Tensor& images);
// Levels: current - pyr_up(pyr_down(current)) from full size down to min_resolution; the last is
// the smallest Gaussian level. images: float32 (N, C, H, W).
std::vector<torch::Tensor> laplacian_pyramid(const torch::Tensor& images, int64_t num_levels);

// images_a, images_b: uint8 (N, H, W, 3) of the same size, square, a power of two >= 16.
// Uses n = min(Na, Nb) images of each (the first n). Works one level at a time on the CPU: the
// level of both sets (computed per image batch), then per chunk of directions the projections of
// every descriptor (gathered again from the level per batch, never stored), sorted per direction.
SwdResult sliced_wasserstein(const torch::Tensor& images_a, const torch::Tensor& images_b,
                             const SwdOptions& options = {});

}  // namespace cmbench

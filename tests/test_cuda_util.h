// Helpers of the CUDA-labelled tests (tests/test_cuda_*.cpp, program cmbench_test_cuda): the skip
// that says why there is no device, TF32 settings restored after a test, relative errors.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "core/torch_compat.h"
#include "nets/denoiser.h"

namespace cmbench::test {

// Empty when a CUDA device can be used; otherwise why not. A LibTorch without CUDA has no CUDA
// runtime hooks (Context::hasCUDART is false); one with CUDA but no usable device has them.
inline std::string cuda_unavailable_reason() {
  if (torch::cuda::is_available()) return {};
  if (!at::globalContext().hasCUDART())
    return "LibTorch " + compat::torch_version() + " was built without CUDA (a CPU-only build)";
  return "LibTorch " + compat::torch_version() + " has CUDA, but no CUDA device is present";
}

// The first statement of every test here.
#define CMBENCH_REQUIRE_CUDA()                                                      \
  do {                                                                              \
    const std::string cmbench_cuda_reason = ::cmbench::test::cuda_unavailable_reason(); \
    if (!cmbench_cuda_reason.empty()) GTEST_SKIP() << cmbench_cuda_reason;          \
  } while (false)

inline torch::Device cuda_device() { return torch::Device(torch::kCUDA, 0); }

// Restores the TF32 flags on exit, so that tests run in one process do not see each other's settings.
class Tf32FlagsRestorer {
 public:
  Tf32FlagsRestorer()
      : cublas_(at::globalContext().allowTF32CuBLAS()), cudnn_(at::globalContext().allowTF32CuDNN()) {}
  ~Tf32FlagsRestorer() {
    at::globalContext().setAllowTF32CuBLAS(cublas_);
    at::globalContext().setAllowTF32CuDNN(cudnn_);
  }
  Tf32FlagsRestorer(const Tf32FlagsRestorer&) = delete;
  Tf32FlagsRestorer& operator=(const Tf32FlagsRestorer&) = delete;

 private:
  bool cublas_, cudnn_;
};

// Replaces the weights by seeded random ones (matrices and kernels ~ N(0, 1 / fan_in), vectors
// perturbed by N(0, 0.1^2)): the presets' zero-initialized output layers would otherwise make
// D(x) = c_skip x, whatever the other layers compute, and hide any difference there.
inline void randomize_parameters(Denoiser& net, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto g = compat::make_cpu_generator(seed);
  for (auto& p : net.parameters()) {
    const auto noise = torch::randn(p.sizes(), g, torch::kFloat32).to(p.device());
    if (p.dim() >= 2) {
      p.copy_(noise / std::sqrt(static_cast<double>(p.numel() / p.size(0))));
    } else {
      p.add_(0.1 * noise);
    }
  }
}

// ||a - b|| / ||b|| over all elements, in float64 on the CPU.
inline double normwise_error(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.to(torch::kCPU, torch::kFloat64), y = b.to(torch::kCPU, torch::kFloat64);
  return ((x - y).norm() / y.norm()).item<double>();
}

// max |a - b| / max |b|: the measure of the reference vectors (VECTORS.md).
inline double max_relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.to(torch::kCPU, torch::kFloat64), y = b.to(torch::kCPU, torch::kFloat64);
  return ((x - y).abs().max() / y.abs().max()).item<double>();
}

}  // namespace cmbench::test

// The one place that hides differences between LibTorch 1.13 (Debian, CPU) and LibTorch 2.x (CUDA
// builds from a PyTorch installation). Everything else calls these wrappers.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <optional>
#include <string>

namespace cmbench::compat {

constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

inline std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// Symmetric eigendecomposition of the lower triangle: 1.13 requires the `uplo` argument.
inline std::tuple<torch::Tensor, torch::Tensor> eigh(const torch::Tensor& a) { return torch::linalg::eigh(a, "L"); }
inline torch::Tensor eigvalsh(const torch::Tensor& a) { return torch::linalg::eigvalsh(a, "L"); }

// c10::optional is its own type in 1.13 and an alias of std::optional in 2.x.
template <class T>
inline c10::optional<T> to_c10(const std::optional<T>& v) {
  return v ? c10::optional<T>(*v) : c10::nullopt;
}

// A fresh CPU generator with a given seed (same API in both versions).
inline torch::Generator make_cpu_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

// Disables TF32 in convolutions and matmuls (FID protocol); a no-op on CPU builds.
inline void disable_tf32() {
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
}

// softmax(q k^T / sqrt(E)) v for q, k, v of shape (B, L, E): the fused kernel where LibTorch has one
// (2.x), an explicit softmax otherwise (1.13 has no scaled_dot_product_attention).
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  return torch::bmm(torch::bmm(q, (k * scale).transpose(1, 2)).softmax(-1), v);
#endif
}

}  // namespace cmbench::compat

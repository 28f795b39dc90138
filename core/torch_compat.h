// The one place that hides differences between LibTorch 1.13 (Debian, CPU) and LibTorch 2.x (CUDA
// builds from a PyTorch installation). Everything else calls these wrappers.
#pragma once

#include <ATen/autocast_mode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/torch.h>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#include <ATen/detail/PrivateUse1HooksInterface.h>
#endif

#include <cmath>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace cmbench::compat {

constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

inline std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// Symmetric eigendecomposition of the lower triangle. The C++ `torch::linalg` namespace (torch/linalg.h)
// is gone in 2.6+; ATen's functions exist in every version (1.13 requires the `uplo` argument).
inline std::tuple<torch::Tensor, torch::Tensor> eigh(const torch::Tensor& a) { return at::linalg_eigh(a, "L"); }
inline torch::Tensor eigvalsh(const torch::Tensor& a) { return at::linalg_eigvalsh(a, "L"); }

// The 2-norm over `dims`, accumulated in `dtype` (torch::linalg::vector_norm before 2.6).
inline torch::Tensor vector_norm(const torch::Tensor& x, at::IntArrayRef dims, bool keepdim, at::ScalarType dtype) {
  return at::linalg_vector_norm(x, 2, dims, keepdim, dtype);
}

// c10::optional is its own type in 1.13 and an alias of std::optional in 2.x.
template <class T>
inline c10::optional<T> to_c10(const std::optional<T>& v) {
  return v ? c10::optional<T>(*v) : c10::nullopt;
}

// TCPStore's libuv backend (the default from 2.4) is absent from Debian's LibTorch builds; the classic
// one exists in every version. Templated on the options type so this header needs no c10d include.
template <class StoreOptions, class = void>
struct HasUseLibUV : std::false_type {};
template <class StoreOptions>
struct HasUseLibUV<StoreOptions, std::void_t<decltype(std::declval<StoreOptions&>().useLibUV)>> : std::true_type {};
template <class StoreOptions>
void use_classic_tcp_store(StoreOptions& options) {
  if constexpr (HasUseLibUV<StoreOptions>::value) options.useLibUV = false;
}

// ProcessGroupNCCL::shutdown() (2.x) releases its communicators and watchdog before the destructor,
// which otherwise warns; older versions clean up in the destructor alone.
template <class Group, class = void>
struct HasShutdown : std::false_type {};
template <class Group>
struct HasShutdown<Group, std::void_t<decltype(std::declval<Group&>().shutdown())>> : std::true_type {};
template <class Group>
void shut_down(Group& group) {
  if constexpr (HasShutdown<Group>::value) group.shutdown();
}

// A fresh CPU generator with a given seed (same API in both versions).
inline torch::Generator make_cpu_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

// Disables TF32 in convolutions and matmuls (FID protocol); a no-op on CPU builds.
inline void disable_tf32() {
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
}

// The default generator of a device (the CPU one, or CUDA device `index`). Context::defaultGenerator
// exists in 1.13 and every 2.x; CUDAHooksInterface::getDefaultCUDAGenerator was renamed in 2.6.
// A PrivateUse1 device (the tests' shadow device, tests/shadow_device.h) runs CPU kernels, which draw
// from the CPU generator.
inline torch::Generator default_generator(const torch::Device& device) {
  if (device.type() == c10::DeviceType::PrivateUse1) return at::globalContext().defaultGenerator(torch::kCPU);
  return at::globalContext().defaultGenerator(device);
}

// Whether this LibTorch was built with CUDA (libtorch_cuda loaded), whether or not a GPU is present.
inline bool built_with_cuda() { return c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA); }

// softmax(q k^T / sqrt(E)) v for q, k, v of shape (B, L, E): the fused kernel where LibTorch has one
// (2.x), an explicit softmax otherwise (1.13 has no scaled_dot_product_attention). The fused kernels
// take only 4-D inputs whose last dimension has unit stride; anything else runs the math kernel.
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  const auto heads_of_one = [](const torch::Tensor& t) { return t.unsqueeze(1).contiguous(); };
  return at::scaled_dot_product_attention(heads_of_one(q), heads_of_one(k), heads_of_one(v)).squeeze(1);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  return torch::bmm(torch::bmm(q, (k * scale).transpose(1, 2)).softmax(-1), v);
#endif
}

// A c10::Allocator written once for every version: Allocator::allocate lost its `const` and gained a
// pure virtual copy_data in 2.3. Subclasses implement allocate_bytes.
class AllocatorBase : public c10::Allocator {
 public:
  virtual c10::DataPtr allocate_bytes(size_t bytes) const = 0;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(size_t bytes) override { return allocate_bytes(bytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t bytes) const override { return allocate_bytes(bytes); }
#endif
};

// Mixed precision for a scope, as Python's `with torch.autocast(device_type, dtype)`: eligible ops
// (convolutions, matmuls) run in `dtype`, the previous state returns on exit and the cast cache is
// cleared when the outermost guard ends. 1.13 and 2.0-2.3 have per-device setters; 2.4+ takes the
// device type.
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device_type, at::ScalarType dtype) : device_type_(device_type) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    previous_enabled_ = at::autocast::is_autocast_enabled(device_type);
    previous_dtype_ = at::autocast::get_autocast_dtype(device_type);
    at::autocast::set_autocast_enabled(device_type, true);
    at::autocast::set_autocast_dtype(device_type, dtype);
#else
    if (device_type == c10::DeviceType::CUDA) {
      previous_enabled_ = at::autocast::is_enabled();
      previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      previous_enabled_ = at::autocast::is_cpu_enabled();
      previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(device_type_, previous_enabled_);
    at::autocast::set_autocast_dtype(device_type_, previous_dtype_);
#else
    if (device_type_ == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(previous_enabled_);
      at::autocast::set_autocast_gpu_dtype(previous_dtype_);
    } else {
      at::autocast::set_cpu_enabled(previous_enabled_);
      at::autocast::set_autocast_cpu_dtype(previous_dtype_);
    }
#endif
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType device_type_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

// A backend registered on the PrivateUse1 device type (the tests' shadow device) answers LibTorch's
// device queries through hooks from 2.1 on (the autograd engine asks at::getAccelerator); 1.13 has
// no such interface and needs none. The hooks are written once for every version: members are not
// marked `override` because isBuilt/isAvailable exist only in newer interfaces, and a member with
// the base's signature overrides it either way.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
using PrivateUse1HooksBase = at::PrivateUse1HooksInterface;
// Naming the backend "privateuseone" (its default name, so device strings do not change) is what
// makes at::getAccelerator report it.
inline void register_private_use1_hooks(PrivateUse1HooksBase* hooks) {
  c10::register_privateuse1_backend("privateuseone");
  at::RegisterPrivateUse1HooksInterface(hooks);
}
#else
struct PrivateUse1HooksBase {
  virtual ~PrivateUse1HooksBase() = default;
};
inline void register_private_use1_hooks(PrivateUse1HooksBase*) {}
#endif

}  // namespace cmbench::compat

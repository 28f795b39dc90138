#include "shadow_device.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/EmptyTensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/library.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/torch_compat.h"

namespace cmbench::test {

namespace {

constexpr c10::DeviceType kShadow = c10::DeviceType::PrivateUse1;
const c10::Device kShadowDevice(kShadow, 0);
// PrivateUse1 dispatches first; the CPU backend bit only makes Module::to()'s set_data accept the
// tensors as dense (TensorImpl::has_compatible_shallow_copy_type knows no PrivateUse1). Device
// queries (is_cpu(), device()) read the storage's device, not the keys.
const c10::DispatchKeySet kShadowKeys = c10::DispatchKeySet(c10::DispatchKey::PrivateUse1) |
                                        c10::DispatchKeySet(c10::DispatchKey::CPU);

std::atomic<int64_t> operator_count{0};

// Host memory labelled as the shadow device.
class ShadowAllocator final : public compat::AllocatorBase {
 public:
  c10::DataPtr allocate_bytes(size_t bytes) const override {
    void* data = bytes ? std::malloc(bytes) : nullptr;
    TORCH_CHECK(data || bytes == 0, "shadow device: out of memory allocating ", bytes, " bytes");
    return {data, data, &std::free, kShadowDevice};
  }
};
ShadowAllocator allocator;

struct ShadowGuardImpl final : public c10::impl::DeviceGuardImplInterface {
  c10::DeviceType type() const override { return kShadow; }
  c10::Device exchangeDevice(c10::Device) const override { return kShadowDevice; }
  c10::Device getDevice() const override { return kShadowDevice; }
  void setDevice(c10::Device device) const override {
    TORCH_CHECK(device.index() <= 0, "shadow device: only device 0 exists, not ", device);
  }
  void uncheckedSetDevice(c10::Device) const noexcept override {}
  c10::Stream getStream(c10::Device) const noexcept override { return c10::Stream(c10::Stream::DEFAULT, kShadowDevice); }
  c10::Stream exchangeStream(c10::Stream) const noexcept override {
    return c10::Stream(c10::Stream::DEFAULT, kShadowDevice);
  }
  c10::DeviceIndex deviceCount() const noexcept override { return 1; }
};
C10_REGISTER_GUARD_IMPL(PrivateUse1, ShadowGuardImpl);

// What LibTorch 2.x asks a PrivateUse1 backend (compat::PrivateUse1HooksBase): one device, always
// present, memory on the host. Generators are the CPU's, since the CPU kernels draw the numbers.
struct ShadowHooks final : public compat::PrivateUse1HooksBase {
  bool isBuilt() const { return true; }
  bool isAvailable() const { return true; }
  bool hasPrimaryContext(c10::DeviceIndex) const { return true; }
  c10::DeviceIndex deviceCount() const { return 1; }
  c10::DeviceIndex getCurrentDevice() const { return 0; }
  void setCurrentDevice(c10::DeviceIndex device) const {
    TORCH_CHECK(device <= 0, "shadow device: only device 0 exists, not ", int(device));
  }
  c10::DeviceIndex exchangeDevice(c10::DeviceIndex) const { return 0; }
  c10::DeviceIndex maybeExchangeDevice(c10::DeviceIndex) const { return 0; }
  const at::Generator& getDefaultGenerator(c10::DeviceIndex) const { return at::detail::getDefaultCPUGenerator(); }
  at::Device getDeviceFromPtr(void*) const { return kShadowDevice; }
  bool isPinnedPtr(const void*) const { return false; }
  c10::Allocator* getPinnedMemoryAllocator() const { return c10::GetAllocator(c10::DeviceType::CPU); }
  void resizePrivateUse1Bytes(const c10::Storage& storage, size_t bytes) const {
    TORCH_CHECK(storage.nbytes() == bytes, "shadow device: storages are resized through their CPU aliases, not ",
                "in place (", storage.nbytes(), " -> ", bytes, " bytes)");
  }
};
ShadowHooks hooks;

struct RegisterBackend {
  RegisterBackend() {
    c10::SetAllocator(kShadow, &allocator);
    compat::register_private_use1_hooks(&hooks);
  }
} register_backend;

// A storage on `device` over the memory of `source`, keeping `source` alive.
c10::Storage storage_over(const c10::Storage& source, c10::Device device, c10::Allocator* resize_allocator) {
  auto* keep = new c10::Storage(source);
  c10::DataPtr data(source.data_ptr().get(), keep, [](void* ctx) { delete static_cast<c10::Storage*>(ctx); }, device);
  return c10::Storage(c10::Storage::use_byte_size_t(), source.nbytes(), std::move(data),
                      resize_allocator, /*resizable=*/resize_allocator != nullptr);
}

at::Tensor tensor_over(c10::Storage storage, c10::DispatchKeySet keys, const at::Tensor& like) {
  auto t = at::detail::make_tensor<c10::TensorImpl>(std::move(storage), keys, like.dtype());
  t.unsafeGetTensorImpl()->set_sizes_and_strides(like.sizes(), like.strides());
  t.unsafeGetTensorImpl()->set_storage_offset(like.storage_offset());
  return t;
}

// The tensors of a TensorList argument (its iterator yields proxies, which GCC 16 warns about both
// when bound to a reference and when copied).
std::vector<at::Tensor> tensors_of(const c10::IValue& list) { return list.toTensorVector(); }

bool on_shadow(const at::Tensor& t) { return t.defined() && t.device().type() == kShadow; }
bool is_cpu_array(const at::Tensor& t) { return t.defined() && t.device().is_cpu() && t.dim() > 0; }

// The operators that may mix devices on CUDA as well: copies between devices (_copy_from and
// _copy_from_and_resize are handled by copy_between before this check), and indexing with CPU index
// tensors.
bool may_mix_devices(const std::string& name) {
  static const char* const allowed[] = {"aten::copy_", "aten::_to_copy", "aten::index", "aten::index_put_",
                                        "aten::_index_put_impl_", "aten::set_"};
  for (const char* a : allowed)
    if (name == a) return true;
  return false;
}

struct Aliased {
  at::Tensor shadow;  // the caller's tensor
  at::Tensor cpu;     // a CPU tensor over the same memory, handed to the CPU kernel
  const void* data;   // its memory when handed over
};

class Call {
 public:
  Call(const c10::OperatorHandle& op, torch::jit::Stack* stack) : op_(op), stack_(stack) {}

  void run() {
    const auto& schema = op_.schema();
    const std::string name = schema.name();
    const size_t arguments = schema.arguments().size();
    const size_t first = stack_->size() - arguments;
    if ((name == "aten::empty" && schema.overload_name() == "memory_format") || name == "aten::empty_strided") {
      return make_empty(name, first);
    }

    if (name == "aten::_copy_from" || name == "aten::_copy_from_and_resize") return copy_between(name, first);

    const bool mixing_allowed = may_mix_devices(name);
    for (size_t i = first; i < stack_->size(); ++i) check((*stack_)[i], name, mixing_allowed);
    for (size_t i = first; i < stack_->size(); ++i) (*stack_)[i] = to_cpu((*stack_)[i]);
    ++operator_count;
    cpu_operator(name, first).callBoxed(stack_);
    for (auto& a : aliased_) sync_metadata(a);
    const size_t returns = schema.returns().size();
    for (size_t i = stack_->size() - returns; i < stack_->size(); ++i) (*stack_)[i] = from_cpu((*stack_)[i]);
  }

 private:
  void make_empty(const std::string& name, size_t first) {
    auto args = torch::jit::last(*stack_, op_.schema().arguments().size());
    const auto sizes = args[0].toIntVector();
    const bool strided = name == "aten::empty_strided";
    const auto& dtype_arg = args[strided ? 2 : 1];
    const auto dtype = dtype_arg.isNone() ? c10::get_default_dtype_as_scalartype() : dtype_arg.toScalarType();
    at::Tensor out;
    if (strided) {
      out = at::detail::empty_strided_generic(sizes, args[1].toIntVector(), &allocator,
                                              kShadowKeys, dtype);
    } else {
      const auto& format = args[5];
      out = at::detail::empty_generic(sizes, &allocator, kShadowKeys, dtype,
                                      format.isNone() ? c10::nullopt : c10::make_optional(format.toMemoryFormat()));
    }
    stack_->erase(stack_->begin() + static_cast<std::ptrdiff_t>(first), stack_->end());
    stack_->emplace_back(std::move(out));
  }

  // The CPU operator that does this operator's work. _convolution sends devices other than CPU and
  // CUDA to convolution_overrideable and its backward, which no CPU kernel implements; the CPU ones
  // take the same arguments (the backward also the bias size, for its bias gradient).
  c10::OperatorHandle cpu_operator(const std::string& name, size_t first) {
    auto& dispatcher = c10::Dispatcher::singleton();
    if (name == "aten::convolution_overrideable") return dispatcher.findSchemaOrThrow("aten::convolution", "");
    if (name == "aten::convolution_backward_overrideable") {
      const auto& weight = (*stack_)[first + 2].toTensor();
      const bool transposed = (*stack_)[first + 6].toBool();
      const int64_t groups = (*stack_)[first + 8].toInt();
      const int64_t out_channels = transposed ? weight.size(1) * groups : weight.size(0);
      stack_->insert(stack_->begin() + static_cast<std::ptrdiff_t>(first + 3),
                     c10::IValue(std::vector<int64_t>{out_channels}));
      return dispatcher.findSchemaOrThrow("aten::convolution_backward", "");
    }
    return op_;
  }

  // copy_ between this device and another calls _copy_from(src, dst), which no CPU kernel has: the
  // copy happens here, between CPU views of both.
  void copy_between(const std::string& name, size_t first) {
    auto args = torch::jit::last(*stack_, op_.schema().arguments().size());
    const at::Tensor src = args[0].toTensor(), dst = args[1].toTensor();
    const bool non_blocking = name == "aten::_copy_from" && args.size() > 2 && args[2].toBool();
    auto dst_cpu = alias_to_cpu(dst);
    if (name == "aten::_copy_from_and_resize") dst_cpu.resize_(src.sizes());
    ++operator_count;
    dst_cpu.copy_(alias_to_cpu(src), non_blocking);
    for (auto& a : aliased_) sync_metadata(a);
    stack_->erase(stack_->begin() + static_cast<std::ptrdiff_t>(first), stack_->end());
    stack_->emplace_back(dst);
  }

  static void check_tensor(const at::Tensor& t, const std::string& op, bool mixing_allowed) {
    if (!mixing_allowed && is_cpu_array(t)) {
      TORCH_CHECK(false, "Expected all tensors to be on the same device, but found at least two devices, ",
                  kShadowDevice, " and cpu! (operator ", op, " got a CPU tensor of shape ", t.sizes(),
                  " with tensors on ", kShadowDevice, ")");
    }
  }

  static void check(const c10::IValue& v, const std::string& op, bool mixing_allowed) {
    if (v.isTensor()) {
      check_tensor(v.toTensor(), op, mixing_allowed);
    } else if (v.isTensorList()) {
      for (const at::Tensor& t : tensors_of(v)) check_tensor(t, op, mixing_allowed);
    } else if (v.isList()) {
      for (const c10::IValue& e : v.toListRef()) {
        if (e.isTensor()) check_tensor(e.toTensor(), op, mixing_allowed);
      }
    } else if (v.isGenerator()) {
      const auto& g = v.toGenerator();
      TORCH_CHECK(!g.defined() || g.device().type() == kShadow, "Expected a '", kShadowDevice,
                  "' device type for generator but found '", g.device(), "' (operator ", op, ")");
    }
  }

  at::Tensor alias_to_cpu(const at::Tensor& t) {
    if (!on_shadow(t)) return t;
    for (const auto& a : aliased_)
      if (a.shadow.unsafeGetTensorImpl() == t.unsafeGetTensorImpl()) return a.cpu;
    auto cpu = tensor_over(storage_over(t.storage(), c10::Device(c10::kCPU), c10::GetAllocator(c10::DeviceType::CPU)),
                           c10::DispatchKeySet(c10::DispatchKey::CPU), t);
    aliased_.push_back({t, cpu, cpu.storage().data_ptr().get()});
    return cpu;
  }

  c10::IValue to_cpu(const c10::IValue& v) {
    if (v.isTensor()) {
      inputs_.push_back(v.toTensor());
      return alias_to_cpu(v.toTensor());
    }
    if (v.isTensorList()) {
      c10::List<at::Tensor> out;
      for (const at::Tensor& t : tensors_of(v)) {
        inputs_.push_back(t);
        out.push_back(alias_to_cpu(t));
      }
      return out;
    }
    // Optional tensor lists (index, index_put_).
    if (v.isList() && v.toList().elementType()->kind() == c10::TypeKind::OptionalType) {
      c10::List<c10::optional<at::Tensor>> out;
      for (const c10::IValue& e : v.toListRef()) {
        if (e.isTensor()) {
          inputs_.push_back(e.toTensor());
          out.push_back(alias_to_cpu(e.toTensor()));
        } else {
          out.push_back(c10::nullopt);
        }
      }
      return out;
    }
    if (v.isDevice() && v.toDevice().type() == kShadow) return c10::Device(c10::kCPU);
    return v;
  }

  // A kernel that resized or restrided one of its arguments did so on the CPU alias.
  static void sync_metadata(Aliased& a) {
    auto* impl = a.shadow.unsafeGetTensorImpl();
    if (a.cpu.storage().data_ptr().get() != a.data) {
      impl->set_storage_keep_dtype(storage_over(a.cpu.storage(), kShadowDevice, nullptr));
    }
    if (a.shadow.sizes() != a.cpu.sizes() || a.shadow.strides() != a.cpu.strides() ||
        a.shadow.storage_offset() != a.cpu.storage_offset()) {
      impl->set_sizes_and_strides(a.cpu.sizes(), a.cpu.strides());
      impl->set_storage_offset(a.cpu.storage_offset());
    }
  }

  at::Tensor tensor_from_cpu(const at::Tensor& t) {
    if (!t.defined() || on_shadow(t)) return t;
    for (const auto& a : aliased_) {
      if (a.cpu.unsafeGetTensorImpl() == t.unsafeGetTensorImpl()) return a.shadow;  // in place or out=
    }
    for (const auto& in : inputs_) {
      if (in.defined() && in.unsafeGetTensorImpl() == t.unsafeGetTensorImpl()) return t;  // a CPU argument (copy_)
    }
    for (const auto& a : aliased_) {
      if (a.cpu.storage().unsafeGetStorageImpl() == t.storage().unsafeGetStorageImpl()) {
        return tensor_over(a.shadow.storage(), kShadowKeys, t);  // a view
      }
    }
    return tensor_over(storage_over(t.storage(), kShadowDevice, nullptr), kShadowKeys, t);
  }

  c10::IValue from_cpu(const c10::IValue& v) {
    if (v.isTensor()) return tensor_from_cpu(v.toTensor());
    if (v.isTensorList()) {
      c10::List<at::Tensor> out;
      for (const at::Tensor& t : tensors_of(v)) out.push_back(tensor_from_cpu(t));
      return out;
    }
    return v;
  }

  const c10::OperatorHandle& op_;
  torch::jit::Stack* stack_;
  std::vector<Aliased> aliased_;
  std::vector<at::Tensor> inputs_;
};

void shadow_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack) { Call(op, stack).run(); }

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) { m.fallback(torch::CppFunction::makeFromBoxedFunction<&shadow_fallback>()); }

// Operators with CompositeExplicitAutograd kernels, which take precedence over a fallback: the two
// convolution hooks throw for every backend, and 2.x's math_group_norm (for devices other than CPU
// and CUDA) views its input as if it were contiguous, which a channels-last convolution output is
// not; CUDA runs its own group-norm kernel, so the CPU kernel is the faithful stand-in.
TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("convolution_overrideable", torch::CppFunction::makeFromBoxedFunction<&shadow_fallback>());
  m.impl("convolution_backward_overrideable", torch::CppFunction::makeFromBoxedFunction<&shadow_fallback>());
  m.impl("native_group_norm", torch::CppFunction::makeFromBoxedFunction<&shadow_fallback>());
}

}  // namespace

torch::Device shadow_device() { return kShadowDevice; }

int64_t shadow_operator_count() { return operator_count.load(); }

}  // namespace cmbench::test

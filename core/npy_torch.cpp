#include "core/npy_torch.h"

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

torch::ScalarType scalar_type_of(DType dtype) {
  switch (dtype) {
    case DType::boolean: return torch::kBool;
    case DType::u8: return torch::kUInt8;
    case DType::i8: return torch::kInt8;
    case DType::i16: return torch::kInt16;
    case DType::i32: return torch::kInt32;
    case DType::i64: return torch::kInt64;
    case DType::f32: return torch::kFloat32;
    case DType::f64: return torch::kFloat64;
    default: break;
  }
  throw InputError(fmt::format("npy dtype {} has no LibTorch equivalent", dtype_name(dtype)));
}

torch::Tensor to_tensor(const NpyArray& array) {
  auto tensor = torch::empty(array.shape, torch::TensorOptions().dtype(scalar_type_of(array.dtype)));
  if (!array.bytes.empty()) std::memcpy(tensor.data_ptr(), array.bytes.data(), array.bytes.size());
  return tensor;
}

NpyArray from_tensor(const torch::Tensor& tensor) {
  const auto cpu = tensor.detach().to(torch::kCPU).contiguous();
  DType dtype;
  switch (cpu.scalar_type()) {
    case torch::kBool: dtype = DType::boolean; break;
    case torch::kUInt8: dtype = DType::u8; break;
    case torch::kInt8: dtype = DType::i8; break;
    case torch::kInt16: dtype = DType::i16; break;
    case torch::kInt32: dtype = DType::i32; break;
    case torch::kInt64: dtype = DType::i64; break;
    case torch::kFloat32: dtype = DType::f32; break;
    case torch::kFloat64: dtype = DType::f64; break;
    default: throw InputError(fmt::format("tensor dtype {} cannot be stored in npy", c10::toString(cpu.scalar_type())));
  }
  NpyArray array(dtype, cpu.sizes().vec());
  if (!array.bytes.empty()) std::memcpy(array.bytes.data(), cpu.data_ptr(), array.bytes.size());  // an empty tensor's data is null
  return array;
}

}  // namespace cmbench

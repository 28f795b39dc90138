// Conversions between NpyArray and torch::Tensor (CPU, contiguous, same dtype).
#pragma once

#include <torch/torch.h>

#include "core/npy.h"

namespace cmbench {

torch::Tensor to_tensor(const NpyArray& array);   // copies; bool/unsigned map to torch's types
NpyArray from_tensor(const torch::Tensor& tensor);  // any device; copies to CPU
torch::ScalarType scalar_type_of(DType dtype);

}  // namespace cmbench

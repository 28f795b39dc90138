// A second device for tests on machines without a GPU: LibTorch's PrivateUse1 device type backed by
// host memory, whose operators run LibTorch's CPU kernels on aliases of its tensors. It checks what a
// CUDA device checks: an operator that mixes one of its tensors with a CPU tensor (other than a
// 0-dim scalar) or a CPU generator fails with "Expected all tensors to be on the same device", so a
// tensor left behind on the CPU fails a test here exactly where it would fail on a GPU. Values are
// computed by the CPU kernels, so results on it equal the CPU's bitwise.
//
// (The meta device cannot serve: LibTorch's C++ build has no meta kernel for convolutions or batch
// norm, cannot copy out of meta tensors and cannot read a value, so no network, sampler or metric
// runs there.)
#pragma once

#include <torch/torch.h>

namespace cmbench::test {

// The device ("privateuseone:0"); the kernels are registered once, on first use.
torch::Device shadow_device();

// Number of operators that ran on the shadow device since the program started (a test can check
// that its code did run there).
int64_t shadow_operator_count();

}  // namespace cmbench::test

// Device choice, thread count and the provenance strings recorded with every result.
#pragma once

#include <torch/torch.h>

#include <string>

namespace cmbench {

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available). Unknown or unavailable devices are an
// InputError naming the choice.
torch::Device resolve_device(const std::string& name);

// Sets LibTorch's intra-op threads: `threads` > 0 as given; 0 = $CMBENCH_THREADS, else every core.
// Returns the count in effect (recorded in the result store).
int configure_threads(int threads = 0);

std::string torch_version();
std::string code_version();         // project version + git description at configure time
std::string device_description();   // e.g. "cpu (2 threads)" or "cuda: NVIDIA H100 (1 device)"

}  // namespace cmbench

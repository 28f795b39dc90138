// Device choice, thread count and the provenance strings recorded with every result.
#pragma once

#include <torch/torch.h>

#include <string>

namespace cmbench {

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available). Unknown or unavailable devices are an
// InputError naming the choice.
torch::Device resolve_device(const std::string& name);
// The device of a data-parallel rank: "auto" and "cuda" name GPU `local_rank` (one GPU per rank, as
// torchrun's LOCAL_RANK), "auto" without CUDA the CPU; an explicit "cpu" or "cuda:N" is kept.
std::string device_for_rank(const std::string& name, int64_t local_rank);

// Sets LibTorch's intra-op threads: `threads` > 0 as given; 0 = $CMBENCH_THREADS, else every core.
// Returns the count in effect (recorded in the result store).
int configure_threads(int threads = 0);

std::string torch_version();
std::string code_version();         // project version + git description at configure time
std::string device_description();   // e.g. "cpu (2 threads)" or "cuda: NVIDIA H100 (1 device)"

}  // namespace cmbench

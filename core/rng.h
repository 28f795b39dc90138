// LibTorch generators derived from the run seed (core/seed.h) and their state for checkpoints.
#pragma once

#include <torch/torch.h>

#include <string_view>

namespace cmbench {

// A CPU generator for stream `name`/`index` of run seed `root`.
torch::Generator make_generator(uint64_t root, std::string_view name, uint64_t index = 0);

// Seeds LibTorch's global generators (CPU and every CUDA device) from stream "global" of `root`.
void seed_global_generators(uint64_t root);

// Default generator of the device that runs a network: the one whose state must be saved and
// restored to replay dropout masks (CUDA generator on GPU, CPU generator otherwise).
torch::Generator default_generator(const torch::Device& device);

// Generator state as a uint8 tensor, and back (checkpoints and student/target replays).
torch::Tensor generator_state(torch::Generator generator);
void set_generator_state(torch::Generator generator, const torch::Tensor& state);

}  // namespace cmbench

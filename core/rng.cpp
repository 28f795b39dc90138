#include "core/rng.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "core/seed.h"
#include "core/torch_compat.h"

namespace cmbench {

torch::Generator make_generator(uint64_t root, std::string_view name, uint64_t index) {
  return compat::make_cpu_generator(derive_seed(root, name, index));
}

void seed_global_generators(uint64_t root) { torch::manual_seed(derive_seed(root, "global")); }

torch::Generator default_generator(const torch::Device& device) {
  if (device.is_cuda() && !device.has_index()) return compat::default_generator(torch::Device(torch::kCUDA, 0));
  return compat::default_generator(device);
}

torch::Tensor generator_state(torch::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(torch::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace cmbench

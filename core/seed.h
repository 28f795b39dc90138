// One run seed derives every generator (model init, CPU and CUDA noise, data order, flips, pools):
// each consumer asks for its own named stream, so adding a consumer never shifts another's draws.
#pragma once

#include <cstdint>
#include <string_view>

namespace cmbench {

uint64_t fnv1a64(std::string_view bytes);
uint64_t splitmix64(uint64_t x);

// Seed of stream `name`, item `index`, under run seed `root`. Pure function: same on every machine.
uint64_t derive_seed(uint64_t root, std::string_view name, uint64_t index = 0);

}  // namespace cmbench

// The hash behind every `synthetic:SEED` weights file (METRICS.md §1): FNV-1a of the tensor's name,
// mixed with the seed and the element index by a murmur3-style finalizer. Element i of tensor NAME
// draws u = synthetic_hash(NAME, SEED, i) / 2^32 in [0, 1); each network turns u into its values.
#pragma once

#include <cstdint>
#include <string>

namespace cmbench {

uint32_t synthetic_hash(const std::string& name, uint32_t seed, uint32_t index);

}  // namespace cmbench

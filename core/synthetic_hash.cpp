#include "core/synthetic_hash.h"

namespace cmbench {

uint32_t synthetic_hash(const std::string& name, uint32_t seed, uint32_t index) {
  uint32_t fnv = 2166136261u;
  for (unsigned char c : name) {
    fnv ^= c;
    fnv *= 16777619u;
  }
  const uint32_t h = fnv ^ ((seed + 1u) * 0x85EBCA6Bu);
  uint32_t x = h + index * 0x9E3779B9u;
  x ^= x >> 16;
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  x ^= x >> 16;
  return x;
}

}  // namespace cmbench

#include "core/numpy_random.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {
constexpr int kStateSize = 624;
constexpr int kShift = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfu;
constexpr uint32_t kUpperMask = 0x80000000u;
constexpr uint32_t kLowerMask = 0x7fffffffu;
}  // namespace

NumpyRandomState::NumpyRandomState(uint32_t seed) {
  state_[0] = seed;
  for (int i = 1; i < kStateSize; ++i) {
    state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  }
  position_ = kStateSize;
}

void NumpyRandomState::refill() {
  int i = 0;
  for (; i < kStateSize - kShift; ++i) {
    const uint32_t y = (state_[i] & kUpperMask) | (state_[i + 1] & kLowerMask);
    state_[i] = state_[i + kShift] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  }
  for (; i < kStateSize - 1; ++i) {
    const uint32_t y = (state_[i] & kUpperMask) | (state_[i + 1] & kLowerMask);
    state_[i] = state_[i + (kShift - kStateSize)] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  }
  const uint32_t y = (state_[kStateSize - 1] & kUpperMask) | (state_[0] & kLowerMask);
  state_[kStateSize - 1] = state_[kShift - 1] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  position_ = 0;
}

uint32_t NumpyRandomState::next_uint32() {
  if (position_ == kStateSize) refill();
  uint32_t y = state_[position_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

double NumpyRandomState::next_double() {
  const uint32_t a = next_uint32() >> 5;
  const uint32_t b = next_uint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

uint64_t NumpyRandomState::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  for (int shift = 1; shift <= 32; shift *= 2) mask |= mask >> shift;
  uint64_t value;
  if (max <= 0xffffffffull) {
    do {
      value = next_uint32() & mask;
    } while (value > max);
  } else {
    do {
      const uint64_t high = next_uint32();
      value = ((high << 32) | next_uint32()) & mask;
    } while (value > max);
  }
  return value;
}

int64_t NumpyRandomState::randint(int64_t low, int64_t high) {
  if (high <= low) throw InputError(fmt::format("randint: empty range [{}, {})", low, high));
  return low + static_cast<int64_t>(interval(static_cast<uint64_t>(high - low - 1)));
}

double NumpyRandomState::gauss() {
  if (has_gauss_) {
    has_gauss_ = false;
    return cached_gauss_;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * next_double() - 1.0;
    x2 = 2.0 * next_double() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  cached_gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

std::vector<int64_t> NumpyRandomState::permutation(int64_t n) {
  std::vector<int64_t> values(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::iota(values.begin(), values.end(), int64_t{0});
  shuffle(values);
  return values;
}

std::vector<int64_t> NumpyRandomState::choice_without_replacement(int64_t n, int64_t size) {
  if (size > n || size < 0) {
    throw InputError(fmt::format("choice: cannot take {} samples without replacement from {}", size, n));
  }
  auto values = permutation(n);
  values.resize(static_cast<size_t>(size));
  return values;
}

std::vector<int64_t> edm_subset_indices(int64_t count, int64_t num, int64_t seed) {
  if (num > count) throw InputError(fmt::format("--num {} exceeds the {} images available", num, count));
  if (num <= 0) throw InputError(fmt::format("--num must be positive, got {}", num));
  std::vector<int64_t> indices(static_cast<size_t>(count));
  std::iota(indices.begin(), indices.end(), int64_t{0});
  if (num == count) return indices;
  // EDM: np.random.RandomState(seed % (1 << 31)).shuffle(indices); Python's % is non-negative.
  const int64_t modulus = int64_t{1} << 31;
  const auto reduced = static_cast<uint32_t>(((seed % modulus) + modulus) % modulus);
  NumpyRandomState rng(reduced);
  rng.shuffle(indices);
  indices.resize(static_cast<size_t>(num));
  std::sort(indices.begin(), indices.end());
  return indices;
}

}  // namespace cmbench

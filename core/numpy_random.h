// numpy's legacy RandomState (MT19937) for the draws the protocols depend on: EDM's FID subset
// (RandomState(seed).shuffle), torch-fidelity's subsets and IS shuffle (choice without replacement,
// permutation). Matches numpy bit for bit; checked against vectors/numpy_random.npz.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace cmbench {

class NumpyRandomState {
 public:
  // numpy.random.RandomState(seed) for an integer seed in [0, 2^32 - 1] (legacy init_genrand).
  explicit NumpyRandomState(uint32_t seed);

  uint32_t next_uint32();
  double next_double();  // random_sample(): 53-bit double in [0, 1)
  // Uniform integer in [0, max] by masked rejection (numpy's random_interval).
  uint64_t interval(uint64_t max);
  // randint(low, high): uniform in [low, high), numpy's legacy masked rejection.
  int64_t randint(int64_t low, int64_t high);
  // standard_normal() of the legacy generator (polar Box-Muller, caches the second value).
  double gauss();

  // In-place Fisher-Yates from the back, as RandomState.shuffle of a 1-D array.
  template <class T>
  void shuffle(std::vector<T>& values) {
    for (size_t i = values.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(interval(i - 1));
      std::swap(values[i - 1], values[j]);
    }
  }
  std::vector<int64_t> permutation(int64_t n);                 // shuffle of 0..n-1
  std::vector<int64_t> choice_without_replacement(int64_t n, int64_t size);  // permutation(n)[:size]

 private:
  void refill();
  std::array<uint32_t, 624> state_{};
  int position_ = 624;
  bool has_gauss_ = false;
  double cached_gauss_ = 0.0;
};

// EDM's subset rule (DESIGN.md --num): RandomState(seed mod 2^31).shuffle(0..count-1), the first
// `num`, sorted ascending. num == count gives all indices in order.
std::vector<int64_t> edm_subset_indices(int64_t count, int64_t num, int64_t seed);

}  // namespace cmbench

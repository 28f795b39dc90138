// `cmbench selftest inception FILE.npz`: recomputes every array of a file laid out like
// vectors/inception_synthetic_seed0.npz (key `seed`; `images_K` uint8 inputs; `pool3_M_K` and
// `logits_unbiased_M_K` for modes M) with synthetic:SEED weights.
#pragma once

#include <string>
#include <vector>

namespace cmbench {

struct SelftestEntry {
  std::string name;  // array key
  double error = 0;  // max|got - want| / max|want|
};

// Every checked array with its error; InputError for a malformed file (no seed, no images).
std::vector<SelftestEntry> run_inception_selftest(const std::string& path, int64_t batch = 8);

constexpr double kInceptionSelftestTolerance = 1e-4;

}  // namespace cmbench

// The ground-truth image source `gmm:` (issue 16): images drawn from a Gaussian mixture whose
// distribution is known exactly (core/gaussian_mixture.h), quantized as generated images are
// (quantize_images, uint8 HWC). No labels.
//
//   gmm:FILE.npz          the "train" set: 50000 draws from seed 0
//   gmm:FILE.npz:train    the same
//   gmm:FILE.npz:test     10000 draws from seed 1
//   gmm:FILE.npz:N:SEED   N draws from seed SEED
//
// Image i is drawn from its own generator, make_generator(SEED, "gmm", i), so every index range
// reads exactly the images a full read holds, without drawing the others.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/gaussian_mixture.h"
#include "data/image_source.h"

namespace cmbench {

struct GmmSourceSpec {
  std::string file;  // the mixture (GaussianMixture::save's .npz)
  int64_t count = 0;
  uint64_t seed = 0;
};

inline constexpr int64_t kGmmTrainCount = 50000, kGmmTestCount = 10000;
inline constexpr uint64_t kGmmTrainSeed = 0, kGmmTestSeed = 1;

// nullopt when `spec` does not start with "gmm:"; InputError naming the spec when it does and is malformed.
std::optional<GmmSourceSpec> parse_gmm_spec(const std::string& spec);

// The mixture of a gmm: spec, loaded once per file (a file rewritten since is loaded again); nullptr
// for any other spec. InputError naming the spec for a malformed spec or a bad file.
std::shared_ptr<const GaussianMixture> ground_truth_of(const std::string& spec);

// open_image_source's gmm: kind; `name` is the spec as given.
std::unique_ptr<ImageSource> open_gmm_source(const GmmSourceSpec& spec, const std::string& name);

}  // namespace cmbench

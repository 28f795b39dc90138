// EDM's FID reporting protocol (METRICS.md §3): FIDs of three disjoint generated seed sets
// (0-49999, 50000-99999, 100000-149999 for n = 50,000) against the same reference statistics; all
// three are stored and the minimum is reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench {

struct SeedRange {
  int64_t first = 0;  // inclusive
  int64_t last = 0;   // inclusive
  std::string label() const;  // "0-49999", the form of `cmbench sample --seeds`
};

// `count` consecutive disjoint ranges of `num` seeds each, starting at 0.
std::vector<SeedRange> edm_seed_sets(int64_t num = 50000, int count = 3);

struct SeedSetSummary {
  std::vector<double> values;  // one FID per seed set, in order
  double min = 0.0;
  size_t argmin = 0;
};

// InputError for no values or a non-finite one.
SeedSetSummary summarize_seed_sets(const std::vector<double>& fids);

}  // namespace cmbench

#include "metrics/protocol.h"

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

std::string SeedRange::label() const { return fmt::format("{}-{}", first, last); }

std::vector<SeedRange> edm_seed_sets(int64_t num, int count) {
  if (num <= 0 || count <= 0) throw InputError(fmt::format("seed sets: need num > 0 and count > 0, got {} and {}", num, count));
  std::vector<SeedRange> sets;
  for (int k = 0; k < count; ++k) sets.push_back({k * num, (k + 1) * num - 1});
  return sets;
}

SeedSetSummary summarize_seed_sets(const std::vector<double>& fids) {
  if (fids.empty()) throw InputError("seed sets: no FID values");
  SeedSetSummary s;
  s.values = fids;
  for (size_t i = 0; i < fids.size(); ++i) {
    if (!std::isfinite(fids[i])) throw InputError(fmt::format("seed sets: FID of set {} is not finite", i));
    if (i == 0 || fids[i] < s.min) {
      s.min = fids[i];
      s.argmin = i;
    }
  }
  return s;
}

}  // namespace cmbench

// `cmbench selftest losses FILE.npz`: every case of the manifest FILE.json run through the real
// methods (methods/registry.h) with the toy network of VECTORS.md plugged in, in float64.
#pragma once

#include <string>
#include <vector>

namespace cmbench {

struct ArrayCheck {
  std::string key;   // npz key of the reference array
  double error = 0;  // max|got - want| / max|want| (absolute when want is all zero)
};

struct SelftestReport {
  std::vector<ArrayCheck> checks;
  double tolerance = 0;
  double max_error() const;
  bool passed() const { return max_error() <= tolerance; }
};

double relative_error(const std::vector<double>& got, const std::vector<double>& want);

// Reads FILE.npz and FILE.json (same stem); InputError naming the file or case on bad input.
SelftestReport run_loss_selftest(const std::string& npz_path, double tolerance = 1e-9);

}  // namespace cmbench

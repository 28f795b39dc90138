// `cmbench selftest optimizers FILE.npz`: RAdam and Adam on the fixed gradients of
// vectors/optimizers.npz against PyTorch 1.13's parameters after each step (float64).
#pragma once

#include <string>

#include "methods/selftest_losses.h"

namespace cmbench {

SelftestReport run_optimizer_selftest(const std::string& npz_path, double tolerance = 1e-12);

}  // namespace cmbench

// `cmbench run SUITE`: stages in dependency order, each trained (resuming from its last
// checkpoint), evaluated at every NFE and appended to DIR/results.h5. A stage with a run in the
// store is complete and skipped, so `--resume` finishes only what is missing.
#pragma once

#include <string>

#include "harness/suite.h"

namespace cmbench {

struct SuiteRunRequest {
  std::string out;     // output folder
  bool resume = false; // finish an existing folder
  bool force = false;  // start over in an existing folder (its stages/ and results.h5 are removed)
  std::string only;    // run just this stage (its dependencies must be complete)
  std::string device = "cpu";
};

// Builds every stage's trainer config and runs the trainer's checks on it (method options, network,
// schedules, EMA profiles), so that a mistake in a late stage fails before the first stage trains.
// InputError naming the stage's line and the key.
void validate_suite(const Suite& suite, const std::string& device = "cpu");

// Validates the suite first; returns the store path.
std::string run_suite(const Suite& suite, const SuiteRunRequest& request);

}  // namespace cmbench

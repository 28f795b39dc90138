// `cmbench run SUITE`: stages in dependency order, each trained (resuming from its last
// checkpoint), evaluated at every NFE and appended to DIR/results.h5. A stage with a run in the
// store is complete and skipped, so `--resume` finishes only what is missing.
#pragma once

#include <string>
#include <vector>

#include "harness/suite.h"
#include "harness/train_plan.h"

namespace cmbench {

struct SuiteRunRequest {
  std::string out;     // output folder
  bool resume = false; // finish an existing folder
  bool force = false;  // start over in an existing folder (its stages/ and results.h5 are removed)
  std::string only;    // run just this stage (its dependencies must be complete)
  std::string device = "cpu";
};

// Every stage's training plan (harness/train_plan.h), in stage order, read before the first stage
// trains so that a mistake in a late stage fails first: InputError naming the stage's line and the
// key. Checkpoints of earlier stages are named, not looked up; run_suite sets them when they exist.
std::vector<TrainPlan> plan_suite_training(const Suite& suite, const std::string& device = "cpu");
void validate_suite(const Suite& suite, const std::string& device = "cpu");  // plan_suite_training

// Validates the suite first; returns the store path.
std::string run_suite(const Suite& suite, const SuiteRunRequest& request);

}  // namespace cmbench

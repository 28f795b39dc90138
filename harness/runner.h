// `cmbench run SUITE`: stages in dependency order, each trained (resuming from its last
// checkpoint), evaluated at every NFE and appended to DIR/results.h5. A stage with a run in the
// store is complete and skipped, so `--resume` finishes only what is missing.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/process_group.h"

#include "harness/suite.h"
#include "harness/train_plan.h"

namespace cmbench {

struct SuiteRunRequest {
  std::string out;     // output folder
  bool resume = false; // finish an existing folder
  bool force = false;  // start over in an existing folder (its stages/ and results.h5 are removed)
  std::string only;    // run just this stage (its dependencies must be complete)
  std::string device = "cpu";
  // Ranks running the suite together (null: one process): every stage trains data-parallel and
  // samples sharded; rank 0 alone computes the metrics and writes the store (issue 13).
  std::shared_ptr<ProcessGroup> group;
};

// Every stage's training plan (harness/train_plan.h), in stage order, read before the first stage
// trains so that a mistake in a late stage fails first: InputError naming the stage's line and the
// key. Checkpoints of earlier stages are named, not looked up; run_suite sets them when they exist.
std::vector<TrainPlan> plan_suite_training(const Suite& suite, const std::string& device = "cpu");
// plan_suite_training, and every stage's batch split over `world_size` ranks (check_batch_splits).
void validate_suite(const Suite& suite, const std::string& device = "cpu", int64_t world_size = 1);

// The output folder made ready for a run (the checks and effects of --resume and --force, the
// suite record in its store, every rank in step); returns the stages the store already holds.
std::set<std::string> prepare_suite_folder(const Suite& suite, const SuiteRunRequest& request);

// The stages of suite `suite_name` that the store at `store` holds a run of.
std::set<std::string> stored_stages(const std::string& store, const std::string& suite_name);

// Validates the suite first; returns the store path.
std::string run_suite(const Suite& suite, const SuiteRunRequest& request);

}  // namespace cmbench

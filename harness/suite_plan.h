// `cmbench run --dry-run`: the plan of a suite as text. A summary table (stages in order, budgets,
// evaluation work), then per stage everything that decides its numbers: method, network,
// preconditioning in training and evaluation, data and flips, budget in images, EMA profiles,
// sampler with its levels and knobs, metrics with their protocol and reference, and the published
// rows it is compared with.
#pragma once

#include <string>
#include <vector>

#include "harness/suite.h"
#include "harness/train_plan.h"

namespace cmbench {

// `plans` are the stages' training plans in stage order (plan_suite_training).
std::string describe_plan(const Suite& suite, const std::vector<TrainPlan>& plans, const std::string& out_dir);

}  // namespace cmbench

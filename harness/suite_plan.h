// `cmbench run --dry-run`: the plan of a suite (stages in order, budgets, evaluation work) as text.
#pragma once

#include <string>

#include "harness/suite.h"

namespace cmbench {

std::string describe_plan(const Suite& suite, const std::string& out_dir);

}  // namespace cmbench

// Evaluation of one finished stage for the suite runner: samples every NFE x seed set with the
// stage's sampling rule, computes the suite's metrics, and tiles an 8x8 grid per NFE.
#pragma once

#include <string>
#include <vector>

#include "harness/suite.h"
#include "results/records.h"

namespace cmbench {

struct StageEvaluation {
  std::vector<results::EvaluationRow> rows;
  std::vector<results::SampleGrid> grids;
};

// `ckpt` is the stage's final checkpoint at training step `step`; samples and grids go to `folder`.
// Sampling runs on `device` (the run's --device).
StageEvaluation evaluate_stage(const Suite& suite, const SuiteStage& stage, const std::string& ckpt, int64_t step,
                               const std::string& folder, const std::string& device);

}  // namespace cmbench

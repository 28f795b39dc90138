// A suite's findings (its [[finding]] tables, FindingSpec in results/records.h) checked on the
// store's rows: each passes or fails with its numbers, or is "not evaluable" when rows it needs are
// missing (never a pass). Values combine their seed sets with the metric policy's aggregate, as the
// tables do; a stage's values are those of its latest run (later stores and later runs win).
//
// Comparisons follow each metric's direction (policy_for): for a lower-is-better metric "a better
// than b within rtol" is a < b + rtol * |b| (b * (1 + rtol) for positive b), for a higher-is-better
// one a > b - rtol * |b|; curve_not_worse allows equality. Where a kind reads curves
// (reaches_first, curve_not_worse) it reads every evaluated step, as training images seen
// (step * images_per_step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/records.h"

namespace cmbench::results {

struct FindingResult {
  FindingSpec spec;
  std::string suite;
  bool passed = false;
  std::string verdict;     // one line with the numbers
  nlohmann::json numbers;  // the values the verdict compares, by metric and stage
  bool evaluable = false;
  std::string missing;     // what the store lacks, when not evaluable
  std::string status() const;  // "pass", "fail" or "n/a"
};

// One metric's value at one evaluated step of a run, combined over its seed sets.
struct MetricPoint {
  int64_t step = 0;
  int64_t images = 0;  // training images seen at that step (0 when the run does not say its batch)
  double value = 0;
};

// Training images per step of `run`: train.batch of its resolved config, else images_seen over its
// last logged training step; 0 when neither is known.
int64_t images_per_step(const RunRecord& run);

// The steps at which `run` evaluated `metric` at `nfe` for the weights `ema`, in step order.
std::vector<MetricPoint> metric_curve(const RunRecord& run, const SuiteRecord* suite, const std::string& metric,
                                      int64_t nfe, const std::string& ema);

// The last step any of the run's rows evaluated (the step tables read); 0 without rows.
int64_t last_evaluated_step(const RunRecord& run);

// Every finding of `suite` on the runs of `store` that belong to it.
std::vector<FindingResult> evaluate_findings(const StoreContents& store, const SuiteRecord& suite);

// The findings of several stores read together (their runs in order; a later store's suite record
// replaces an earlier one of the same name): those of `suite_override` when given, else those of
// every suite record, in name order.
std::vector<FindingResult> evaluate_store_findings(const std::vector<StoreContents>& stores,
                                                   const SuiteRecord* suite_override = nullptr);

// "PASS id: claim | verdict" (FAIL, N/A: "... | not evaluable: missing").
std::string finding_line(const FindingResult& result);
nlohmann::json finding_json(const FindingResult& result);

}  // namespace cmbench::results

// `cmbench compare`: the regression gate. Runs are matched by suite, stage and NFE (the latest run
// of each stage in each store); each metric's value (combined over seed sets as each store's policy
// says; every row names that aggregate and its count) is compared under its policy: direction and
// tolerance from the current store, unless a suite file or --rtol overrides them. A change for the
// worse beyond atol + rtol*|baseline|, a NaN, or a baseline row that the current store lacks fails
// the gate.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/records.h"

namespace cmbench::results {

struct CompareOptions {
  const SuiteRecord* suite = nullptr;  // --suite: policies from this suite (and only its runs)
  std::optional<double> rtol;          // --rtol: relative tolerance for every metric
  std::string metric;                  // --metric: only this metric
};

// How one side's value combines its seed sets, e.g. {"min", 3}; {"", 0} for a side without the row.
struct SeedSetAggregate {
  std::string aggregate;  // "mean", "min" or "max"
  int64_t seed_sets = 0;
};

struct ComparisonRow {
  std::string suite, stage, metric;
  int64_t nfe = 0;
  double baseline = 0, current = 0;
  std::string direction;
  double rtol = 0, atol = 0;
  std::string status;  // "same", "better", "within", "worse", "missing" (absent from current), "new"
  SeedSetAggregate baseline_aggregate, current_aggregate;
  // The current side's, else (a missing row) the baseline's.
  const SeedSetAggregate& aggregate() const {
    return current_aggregate.seed_sets > 0 ? current_aggregate : baseline_aggregate;
  }
};

struct Comparison {
  std::vector<ComparisonRow> rows;
  int regressions = 0, missing = 0;
  bool passed() const { return regressions == 0 && missing == 0; }
};

Comparison compare_stores(const StoreContents& baseline, const StoreContents& current, const CompareOptions& options);

nlohmann::json comparison_json(const Comparison& comparison, const std::string& baseline_path,
                               const std::string& current_path);
std::string comparison_text(const Comparison& comparison);

}  // namespace cmbench::results

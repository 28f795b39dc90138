// What tables and comparisons read from stores: the latest run of each (suite, stage) and its
// metric values per NFE, combined over seed sets as the suite's metric policy says.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "results/records.h"

namespace cmbench::results {

struct MetricValue {
  double value = 0;       // aggregated over seed sets
  int64_t seed_sets = 0;  // how many values were combined
  int64_t num_samples = 0;
};

struct StageResult {
  const RunRecord* run = nullptr;
  const SuiteRecord* suite = nullptr;  // the run's suite record, when the store has one
  std::map<std::pair<int64_t, std::string>, MetricValue> metrics;  // (nfe, metric)
};

// The latest run per (suite, stage) across `stores` (later stores and later runs win), in order of
// first appearance. With `suite_override` only that suite's runs, with its policies (a suite file
// given on the command line rather than the record stored by `run`). The results point into
// `stores`, which must outlive them.
std::vector<StageResult> stage_results(const std::vector<StoreContents>& stores,
                                       const SuiteRecord* suite_override = nullptr);

// Combines values as "mean", "min" or "max"; InputError for another name.
double aggregate_values(const std::vector<double>& values, const std::string& how);

// Canonical metric order: fid, is_mean, is_std, swd, then the rest alphabetically.
std::vector<std::string> ordered_metrics(const std::vector<StageResult>& results);

}  // namespace cmbench::results

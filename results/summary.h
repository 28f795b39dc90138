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

// One metric at one NFE over its seed sets. A NaN among the seed sets makes every statistic NaN:
// a failed evaluation must not hide behind a good seed set.
struct MetricValue {
  double value = 0;       // combined over seed sets by the policy's `aggregate`
  int64_t seed_sets = 0;  // how many values were combined
  int64_t num_samples = 0;
  std::string aggregate;  // how `value` was combined: "mean", "min" or "max"
  double min = 0, max = 0, mean = 0;
  double stddev = 0;  // sample standard deviation (ddof 1); NaN with one seed set
};

struct StageResult {
  const RunRecord* run = nullptr;
  const SuiteRecord* suite = nullptr;  // the run's suite record, when the store has one
  std::map<std::pair<int64_t, std::string>, MetricValue> metrics;  // (nfe, metric)
  std::string ema;  // the EMA profile of these values; "" for the checkpoint's default weights
  // The stage as tables and comparisons name it: "cd", or "cd [ema 0.999]" for another profile.
  std::string label() const;
};

// The latest run per (suite, stage) across `stores` (later stores and later runs win), in order of
// first appearance, one result per EMA profile evaluated (the default weights first). With `suite_override` only that suite's runs, with its policies (a suite file
// given on the command line rather than the record stored by `run`). The results point into
// `stores`, which must outlive them.
std::vector<StageResult> stage_results(const std::vector<StoreContents>& stores,
                                       const SuiteRecord* suite_override = nullptr);

// Combines values as "mean", "min" or "max"; InputError for another name.
double aggregate_values(const std::vector<double>& values, const std::string& how);

// The seed sets' values of one metric: `aggregate` as aggregate_values, and their statistics
// (num_samples is left 0).
MetricValue combine_seed_sets(const std::vector<double>& values, const std::string& aggregate);

// The best seed set's value: the min where lower is better, the max where higher is.
double best_value(const MetricValue& value, const std::string& direction);

// Canonical metric order: fid, is_mean, is_std, swd, then the rest alphabetically.
std::vector<std::string> ordered_metrics(const std::vector<StageResult>& results);

}  // namespace cmbench::results

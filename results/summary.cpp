#include "results/summary.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench::results {

double aggregate_values(const std::vector<double>& values, const std::string& how) {
  if (values.empty()) throw std::logic_error("aggregate_values: no values");
  for (double v : values) {
    if (std::isnan(v)) return v;  // a failed evaluation must not hide behind a good seed set
  }
  if (how == "mean") return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  if (how == "min") return *std::min_element(values.begin(), values.end());
  if (how == "max") return *std::max_element(values.begin(), values.end());
  throw InputError(fmt::format("unknown aggregation '{}' (known: mean, min, max)", how));
}

namespace {

StageResult summarize(const RunRecord& run, const SuiteRecord* suite) {
  StageResult result{&run, suite, {}};
  int64_t last_step = 0;
  for (const auto& e : run.evaluations) last_step = std::max(last_step, e.step);
  std::map<std::pair<int64_t, std::string>, std::vector<double>> values;
  std::map<std::pair<int64_t, std::string>, int64_t> samples;
  for (const auto& e : run.evaluations) {
    if (e.step != last_step) continue;
    const auto key = std::make_pair(e.nfe, e.metric);
    values[key].push_back(e.value);
    samples[key] = std::max(samples[key], e.num_samples);
  }
  for (const auto& [key, list] : values) {
    const auto policy = policy_for(suite, key.second);
    result.metrics[key] = {aggregate_values(list, policy.aggregate), static_cast<int64_t>(list.size()), samples[key]};
  }
  return result;
}

}  // namespace

std::vector<StageResult> stage_results(const std::vector<StoreContents>& stores, const SuiteRecord* suite_override) {
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, StageResult> latest;
  for (const auto& store : stores) {
    for (const auto& run : store.runs) {
      if (suite_override && run.suite != suite_override->name) continue;
      const auto key = std::make_pair(run.suite, run.stage);
      if (!latest.count(key)) order.push_back(key);
      latest[key] = summarize(run, suite_override ? suite_override : find_suite(store, run.suite));
    }
  }
  std::vector<StageResult> out;
  for (const auto& key : order) out.push_back(latest.at(key));
  return out;
}

std::vector<std::string> ordered_metrics(const std::vector<StageResult>& results) {
  std::set<std::string> present;
  for (const auto& r : results) {
    for (const auto& [key, value] : r.metrics) present.insert(key.second);
  }
  std::vector<std::string> out;
  for (const char* name : {"fid", "is_mean", "is_std", "swd"}) {
    if (present.erase(name)) out.push_back(name);
  }
  out.insert(out.end(), present.begin(), present.end());
  return out;
}

}  // namespace cmbench::results

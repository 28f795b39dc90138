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

MetricValue combine_seed_sets(const std::vector<double>& values, const std::string& aggregate) {
  MetricValue out;
  out.value = aggregate_values(values, aggregate);
  out.aggregate = aggregate;
  out.seed_sets = static_cast<int64_t>(values.size());
  out.min = aggregate_values(values, "min");
  out.max = aggregate_values(values, "max");
  out.mean = aggregate_values(values, "mean");
  double squares = 0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  out.stddev = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : std::nan("");
  return out;
}

double best_value(const MetricValue& value, const std::string& direction) {
  return direction == "higher" ? value.max : value.min;
}

namespace {

StageResult summarize(const RunRecord& run, const SuiteRecord* suite, const std::string& ema) {
  StageResult result{&run, suite, {}, ema};
  int64_t last_step = 0;
  for (const auto& e : run.evaluations) last_step = std::max(last_step, e.step);
  std::map<std::pair<int64_t, std::string>, std::vector<double>> values;
  std::map<std::pair<int64_t, std::string>, int64_t> samples;
  for (const auto& e : run.evaluations) {
    if (e.step != last_step || e.ema != ema) continue;
    const auto key = std::make_pair(e.nfe, e.metric);
    values[key].push_back(e.value);
    samples[key] = std::max(samples[key], e.num_samples);
  }
  for (const auto& [key, list] : values) {
    const auto policy = policy_for(suite, key.second);
    MetricValue value = combine_seed_sets(list, policy.aggregate);
    value.num_samples = samples[key];
    result.metrics[key] = value;
  }
  return result;
}

}  // namespace

std::string StageResult::label() const { return ema.empty() ? run->stage : fmt::format("{} [ema {}]", run->stage, ema); }

std::vector<StageResult> stage_results(const std::vector<StoreContents>& stores, const SuiteRecord* suite_override) {
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, const RunRecord*> latest;
  std::map<std::pair<std::string, std::string>, const SuiteRecord*> suites;
  for (const auto& store : stores) {
    for (const auto& run : store.runs) {
      if (suite_override && run.suite != suite_override->name) continue;
      const auto key = std::make_pair(run.suite, run.stage);
      if (!latest.count(key)) order.push_back(key);
      latest[key] = &run;
      suites[key] = suite_override ? suite_override : find_suite(store, run.suite);
    }
  }
  std::vector<StageResult> out;
  for (const auto& key : order) {
    const RunRecord& run = *latest.at(key);
    std::vector<std::string> profiles;  // first-evaluated order, the default weights ("") first
    for (const auto& e : run.evaluations) {
      if (std::find(profiles.begin(), profiles.end(), e.ema) == profiles.end()) profiles.push_back(e.ema);
    }
    if (profiles.empty()) profiles.push_back("");  // a run without evaluation still gets its result
    std::stable_partition(profiles.begin(), profiles.end(), [](const std::string& p) { return p.empty(); });
    for (const auto& ema : profiles) out.push_back(summarize(run, suites.at(key), ema));
  }
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

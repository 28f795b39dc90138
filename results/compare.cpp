#include "results/compare.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "results/summary.h"

namespace cmbench::results {

namespace {

using RowKey = std::tuple<std::string, std::string, int64_t, std::string>;  // suite, stage, nfe, metric

std::map<RowKey, MetricValue> values_of(const std::vector<StageResult>& stages, const std::string& only_metric) {
  std::map<RowKey, MetricValue> out;
  for (const auto& s : stages) {
    for (const auto& [key, value] : s.metrics) {
      if (!only_metric.empty() && key.second != only_metric) continue;
      out[{s.run->suite, s.label(), key.first, key.second}] = value;
    }
  }
  return out;
}

SeedSetAggregate aggregate_of(const MetricValue& value) { return {value.aggregate, value.seed_sets}; }

std::string judge(double baseline, double current, const MetricPolicy& policy) {
  if (std::isnan(baseline)) return std::isnan(current) ? "same" : "better";
  if (std::isnan(current)) return "worse";
  if (current == baseline) return "same";
  const double worse_by = policy.direction == "higher" ? baseline - current : current - baseline;
  const double allowed = policy.atol + policy.rtol * std::fabs(baseline);
  if (worse_by > allowed) return "worse";
  if (worse_by < 0) return "better";
  return "within";
}

}  // namespace

Comparison compare_stores(const StoreContents& baseline, const StoreContents& current, const CompareOptions& options) {
  // StageResult points into the stores, so the lists must outlive the summaries.
  const std::vector<StoreContents> base_list{baseline}, current_list{current};
  const auto base_stages = stage_results(base_list, options.suite);
  const auto current_stages = stage_results(current_list, options.suite);
  const auto base_values = values_of(base_stages, options.metric);
  const auto current_values = values_of(current_stages, options.metric);

  const auto policy = [&](const std::string& suite, const std::string& metric) {
    MetricPolicy p = policy_for(options.suite ? options.suite : find_suite(current, suite), metric);
    if (options.rtol) p.rtol = *options.rtol;
    return p;
  };

  Comparison out;
  for (const auto& [key, base] : base_values) {
    const auto& [suite, stage, nfe, metric] = key;
    const auto p = policy(suite, metric);
    ComparisonRow row{suite, stage, metric, nfe, base.value, std::nan(""), p.direction, p.rtol, p.atol, "missing",
                      aggregate_of(base), SeedSetAggregate{}};
    auto it = current_values.find(key);
    if (it == current_values.end()) {
      ++out.missing;
    } else {
      row.current = it->second.value;
      row.current_aggregate = aggregate_of(it->second);
      row.status = judge(base.value, it->second.value, p);
      if (row.status == "worse") ++out.regressions;
    }
    out.rows.push_back(row);
  }
  for (const auto& [key, value] : current_values) {
    if (base_values.count(key)) continue;
    const auto& [suite, stage, nfe, metric] = key;
    const auto p = policy(suite, metric);
    ComparisonRow row{suite, stage, metric, nfe, std::nan(""), value.value, p.direction, p.rtol, p.atol, "new",
                      SeedSetAggregate{}, aggregate_of(value)};
    out.rows.push_back(std::move(row));
  }
  return out;
}

namespace {

nlohmann::json number_or_null(double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); }

// "min of 3"; "min of 3 (baseline mean of 2)" where the stores combine their seed sets differently.
std::string over_seed_sets(const ComparisonRow& r) {
  const auto describe = [](const SeedSetAggregate& a) { return fmt::format("{} of {}", a.aggregate, a.seed_sets); };
  std::string out = describe(r.aggregate());
  const bool both = r.baseline_aggregate.seed_sets > 0 && r.current_aggregate.seed_sets > 0;
  if (both && (r.baseline_aggregate.aggregate != r.current_aggregate.aggregate ||
               r.baseline_aggregate.seed_sets != r.current_aggregate.seed_sets)) {
    out += " (baseline " + describe(r.baseline_aggregate) + ")";
  }
  return out;
}

std::string relative_change(const ComparisonRow& r) {
  if (std::isnan(r.baseline) || std::isnan(r.current) || r.baseline == 0) return "";
  return fmt::format("{:+.3f}%", 100 * (r.current - r.baseline) / std::fabs(r.baseline));
}

}  // namespace

nlohmann::json comparison_json(const Comparison& comparison, const std::string& baseline_path,
                               const std::string& current_path) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : comparison.rows) {
    const auto& base = r.baseline_aggregate;
    const bool in_baseline = base.seed_sets > 0;
    rows.push_back({{"suite", r.suite},
                    {"stage", r.stage},
                    {"nfe", r.nfe},
                    {"metric", r.metric},
                    {"baseline", number_or_null(r.baseline)},
                    {"current", number_or_null(r.current)},
                    {"change", std::isnan(r.baseline) || std::isnan(r.current) ? nlohmann::json()
                                                                                : nlohmann::json(r.current - r.baseline)},
                    {"aggregate", r.aggregate().aggregate},
                    {"seed_sets", r.aggregate().seed_sets},
                    {"baseline_aggregate", in_baseline ? nlohmann::json(base.aggregate) : nlohmann::json()},
                    {"baseline_seed_sets", in_baseline ? nlohmann::json(base.seed_sets) : nlohmann::json()},
                    {"direction", r.direction},
                    {"rtol", r.rtol},
                    {"atol", r.atol},
                    {"status", r.status}});
  }
  return {{"baseline", baseline_path}, {"current", current_path}, {"rows", rows},
          {"regressions", comparison.regressions}, {"missing", comparison.missing}, {"passed", comparison.passed()}};
}

std::string comparison_text(const Comparison& comparison) {
  constexpr const char* kRow = "{:<24} {:<10} {:>4} {:<8} {:>14} {:>14} {:>10}  {:<14}  {}\n";
  std::string out = fmt::format(kRow, "suite", "stage", "nfe", "metric", "baseline", "current", "change", "over seed sets",
                                "status");
  for (const auto& r : comparison.rows) {
    const auto value = [](double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.6g}", v); };
    std::string status = r.status;
    if (r.status == "worse" || r.status == "within") {
      status += fmt::format(" (tolerance rtol {:g} atol {:g}, {} is better)", r.rtol, r.atol, r.direction);
    }
    out += fmt::format(kRow, r.suite, r.stage, r.nfe, r.metric, value(r.baseline), value(r.current), relative_change(r),
                       over_seed_sets(r), status);
  }
  out += comparison.passed()
             ? fmt::format("passed: {} rows, no regression\n", comparison.rows.size())
             : fmt::format("FAILED: {} regression(s), {} baseline row(s) missing from the current store\n",
                           comparison.regressions, comparison.missing);
  return out;
}

}  // namespace cmbench::results

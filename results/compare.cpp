#include "results/compare.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "results/summary.h"

namespace cmbench::results {

namespace {

using RowKey = std::tuple<std::string, std::string, int64_t, std::string>;  // suite, stage, nfe, metric

std::map<RowKey, double> values_of(const std::vector<StageResult>& stages, const std::string& only_metric) {
  std::map<RowKey, double> out;
  for (const auto& s : stages) {
    for (const auto& [key, value] : s.metrics) {
      if (!only_metric.empty() && key.second != only_metric) continue;
      out[{s.run->suite, s.run->stage, key.first, key.second}] = value.value;
    }
  }
  return out;
}

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
    ComparisonRow row{suite, stage, metric, nfe, base, std::nan(""), p.direction, p.rtol, p.atol, "missing"};
    auto it = current_values.find(key);
    if (it == current_values.end()) {
      ++out.missing;
    } else {
      row.current = it->second;
      row.status = judge(base, it->second, p);
      if (row.status == "worse") ++out.regressions;
    }
    out.rows.push_back(row);
  }
  for (const auto& [key, value] : current_values) {
    if (base_values.count(key)) continue;
    const auto& [suite, stage, nfe, metric] = key;
    const auto p = policy(suite, metric);
    out.rows.push_back({suite, stage, metric, nfe, std::nan(""), value, p.direction, p.rtol, p.atol, "new"});
  }
  return out;
}

namespace {

nlohmann::json number_or_null(double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); }

std::string relative_change(const ComparisonRow& r) {
  if (std::isnan(r.baseline) || std::isnan(r.current) || r.baseline == 0) return "";
  return fmt::format("{:+.3f}%", 100 * (r.current - r.baseline) / std::fabs(r.baseline));
}

}  // namespace

nlohmann::json comparison_json(const Comparison& comparison, const std::string& baseline_path,
                               const std::string& current_path) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : comparison.rows) {
    rows.push_back({{"suite", r.suite},
                    {"stage", r.stage},
                    {"nfe", r.nfe},
                    {"metric", r.metric},
                    {"baseline", number_or_null(r.baseline)},
                    {"current", number_or_null(r.current)},
                    {"change", std::isnan(r.baseline) || std::isnan(r.current) ? nlohmann::json()
                                                                                : nlohmann::json(r.current - r.baseline)},
                    {"direction", r.direction},
                    {"rtol", r.rtol},
                    {"atol", r.atol},
                    {"status", r.status}});
  }
  return {{"baseline", baseline_path}, {"current", current_path}, {"rows", rows},
          {"regressions", comparison.regressions}, {"missing", comparison.missing}, {"passed", comparison.passed()}};
}

std::string comparison_text(const Comparison& comparison) {
  std::string out = fmt::format("{:<24} {:<10} {:>4} {:<8} {:>14} {:>14} {:>10}  {}\n", "suite", "stage", "nfe",
                                "metric", "baseline", "current", "change", "status");
  for (const auto& r : comparison.rows) {
    const auto value = [](double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.6g}", v); };
    std::string status = r.status;
    if (r.status == "worse" || r.status == "within") {
      status += fmt::format(" (tolerance rtol {:g} atol {:g}, {} is better)", r.rtol, r.atol, r.direction);
    }
    out += fmt::format("{:<24} {:<10} {:>4} {:<8} {:>14} {:>14} {:>10}  {}\n", r.suite, r.stage, r.nfe, r.metric,
                       value(r.baseline), value(r.current), relative_change(r), status);
  }
  out += comparison.passed()
             ? fmt::format("passed: {} rows, no regression\n", comparison.rows.size())
             : fmt::format("FAILED: {} regression(s), {} baseline row(s) missing from the current store\n",
                           comparison.regressions, comparison.missing);
  return out;
}

}  // namespace cmbench::results

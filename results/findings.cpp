#include "results/findings.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "results/summary.h"

namespace cmbench::results {

namespace {

std::string number(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.4g}", v); }

std::string joined(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

// The relation the numbers actually have, for the verdict (whether it passes is the status).
const char* relation(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return "?";
  return a < b ? "<" : a > b ? ">" : "=";
}

// a better than b (strictly; within rtol * |b|) under `direction`; NaN is never better.
bool better(double a, double b, double rtol, const std::string& direction) {
  const double slack = rtol * std::fabs(b);
  return direction == "higher" ? a > b - slack : a < b + slack;
}

bool not_worse(double a, double b, double rtol, const std::string& direction) {
  const double slack = rtol * std::fabs(b);
  return direction == "higher" ? a >= b - slack : a <= b + slack;
}

const RunRecord* latest_run(const StoreContents& store, const std::string& suite, const std::string& stage) {
  const RunRecord* latest = nullptr;
  for (const auto& run : store.runs) {
    if (run.suite == suite && run.stage == stage) latest = &run;
  }
  return latest;
}

// What one finding reads from the store, collecting what is missing instead of stopping at the first.
class Reading {
 public:
  Reading(const StoreContents& store, const SuiteRecord& suite, const FindingSpec& spec)
      : store_(store), suite_(suite), spec_(spec) {}

  std::string direction(const std::string& metric) const { return policy_for(&suite_, metric).direction; }

  const RunRecord* run(const std::string& stage) {
    const RunRecord* r = latest_run(store_, suite_.name, stage);
    if (!r) note(fmt::format("stage '{}' has no run", stage));
    return r;
  }

  std::vector<MetricPoint> curve(const std::string& stage, const std::string& metric, int64_t nfe) {
    const RunRecord* r = run(stage);
    if (!r) return {};
    auto points = metric_curve(*r, &suite_, metric, nfe, spec_.ema);
    if (points.empty()) note(fmt::format("{}: no {} rows at NFE {}{}", stage, metric, nfe, profile()));
    return points;
  }

  // The value at the run's last evaluated step.
  std::optional<double> final_value(const std::string& stage, const std::string& metric, int64_t nfe) {
    const RunRecord* r = run(stage);
    if (!r) return std::nullopt;
    const int64_t step = last_evaluated_step(*r);
    for (const auto& p : metric_curve(*r, &suite_, metric, nfe, spec_.ema)) {
      if (p.step == step) return p.value;
    }
    note(fmt::format("{}: no {} row at NFE {}{} at its last evaluated step {}", stage, metric, nfe, profile(), step));
    return std::nullopt;
  }

  void note(const std::string& what) {
    if (std::find(missing_.begin(), missing_.end(), what) == missing_.end()) missing_.push_back(what);
  }
  bool complete() const { return missing_.empty(); }
  std::string missing() const { return joined(missing_, "; "); }

 private:
  std::string profile() const { return spec_.ema.empty() ? "" : fmt::format(" (ema {})", spec_.ema); }

  const StoreContents& store_;
  const SuiteRecord& suite_;
  const FindingSpec& spec_;
  std::vector<std::string> missing_;
};

// What a kind needs of the spec's lists (a store may hold specs no suite file checked); "" when
// the spec has it.
std::string shape_problem(const FindingSpec& s) {
  const auto kinds = {"below", "curve_not_worse", "decreasing", "reaches_first", "nfe_improves"};
  if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end()) return fmt::format("unknown finding kind '{}'", s.kind);
  const auto needs = [&](const char* what) { return fmt::format("a '{}' finding needs {}", s.kind, what); };
  const bool pair = s.kind == "below" || s.kind == "curve_not_worse";
  if (s.metrics.empty()) return needs("a metric");
  if (pair && s.stages.size() != 2) return needs("exactly 2 stages");
  if (s.kind == "decreasing" && s.stages.size() < 2) return needs("at least 2 stages");
  if (s.stages.empty()) return needs("a stage");
  if (s.kind == "reaches_first" && s.others.empty()) return needs("others");
  if (s.kind == "reaches_first" && s.metrics.size() != 1) return needs("exactly 1 metric");
  if (s.kind == "nfe_improves") return s.nfe.size() == 2 ? "" : needs("exactly 2 NFEs");
  return s.nfe.size() == 1 ? "" : needs("exactly 1 NFE");
}

struct Outcome {
  bool passed = true;
  std::vector<std::string> parts;  // the verdict's clauses
  nlohmann::json numbers = nlohmann::json::object();
};

Outcome check_below(Reading& reading, const FindingSpec& s) {
  Outcome out;
  const auto &a = s.stages[0], &b = s.stages[1];
  for (const auto& metric : s.metrics) {
    const auto va = reading.final_value(a, metric, s.nfe[0]);
    const auto vb = reading.final_value(b, metric, s.nfe[0]);
    if (!va || !vb) continue;
    out.passed = out.passed && better(*va, *vb, s.rtol, reading.direction(metric));
    out.numbers[metric] = {{a, *va}, {b, *vb}};
    out.parts.push_back(fmt::format("{}: {} {} {} {} {}", metric, a, number(*va), relation(*va, *vb), b, number(*vb)));
  }
  return out;
}

Outcome check_decreasing(Reading& reading, const FindingSpec& s) {
  Outcome out;
  for (const auto& metric : s.metrics) {
    std::vector<double> values;
    for (const auto& stage : s.stages) {
      if (const auto v = reading.final_value(stage, metric, s.nfe[0])) values.push_back(*v);
    }
    if (values.size() != s.stages.size()) continue;
    std::string clause = fmt::format("{}: {} {}", metric, s.stages[0], number(values[0]));
    out.numbers[metric][s.stages[0]] = values[0];
    for (size_t i = 1; i < values.size(); ++i) {
      out.passed = out.passed && better(values[i], values[i - 1], s.rtol, reading.direction(metric));
      clause += fmt::format(" {} {} {}", relation(values[i - 1], values[i]), s.stages[i], number(values[i]));
      out.numbers[metric][s.stages[i]] = values[i];
    }
    out.parts.push_back(clause);
  }
  return out;
}

Outcome check_reaches_first(Reading& reading, const FindingSpec& s) {
  Outcome out;
  const auto& metric = s.metrics[0];
  const auto direction = reading.direction(metric);
  const double never = std::numeric_limits<double>::infinity();
  // Images seen until the metric first reaches the threshold; `never` when it does not.
  const auto reach = [&](const std::string& stage) -> std::optional<double> {
    const auto points = reading.curve(stage, metric, s.nfe[0]);
    if (points.empty()) return std::nullopt;
    if (images_per_step(*reading.run(stage)) == 0) {
      reading.note(fmt::format("{}: its training images per step are unknown", stage));
      return std::nullopt;
    }
    for (const auto& p : points) {
      if (direction == "higher" ? p.value >= s.threshold : p.value <= s.threshold) return static_cast<double>(p.images);
    }
    return never;
  };
  const auto describe = [&](const std::vector<std::string>& stages, double& bound, bool first_group) {
    std::vector<std::string> clauses;
    for (const auto& stage : stages) {
      const auto images = reach(stage);
      if (!images) continue;
      bound = first_group ? std::max(bound, *images) : std::min(bound, *images);
      out.numbers["images_to_threshold"][stage] =
          *images == never ? nlohmann::json(nullptr) : nlohmann::json(static_cast<int64_t>(*images));
      clauses.push_back(*images == never ? stage + " never" : fmt::format("{} {}", stage, static_cast<int64_t>(*images)));
    }
    return joined(clauses, ", ");
  };
  double slowest_first = 0, fastest_other = never;
  const auto firsts = describe(s.stages, slowest_first, true);
  const auto others = describe(s.others, fastest_other, false);
  out.passed = slowest_first < fastest_other;
  out.numbers["threshold"] = s.threshold;
  out.parts.push_back(fmt::format("images until {} {} {}: {} vs {}", metric, direction == "higher" ? ">=" : "<=",
                                  number(s.threshold), firsts, others));
  return out;
}

Outcome check_nfe_improves(Reading& reading, const FindingSpec& s) {
  Outcome out;
  const int64_t from = s.nfe[0], to = s.nfe[1];
  for (const auto& metric : s.metrics) {
    std::vector<std::string> clauses;
    for (const auto& stage : s.stages) {
      const auto v_from = reading.final_value(stage, metric, from);
      const auto v_to = reading.final_value(stage, metric, to);
      if (!v_from || !v_to) continue;
      out.passed = out.passed && better(*v_to, *v_from, s.rtol, reading.direction(metric));
      out.numbers[metric][stage] = {{std::to_string(from), *v_from}, {std::to_string(to), *v_to}};
      clauses.push_back(fmt::format("{} {} -> {}", stage, number(*v_from), number(*v_to)));
    }
    if (!clauses.empty()) out.parts.push_back(fmt::format("{} at NFE {} -> {}: {}", metric, from, to, joined(clauses, ", ")));
  }
  return out;
}

Outcome check_curve_not_worse(Reading& reading, const FindingSpec& s) {
  Outcome out;
  const auto &a = s.stages[0], &b = s.stages[1];
  for (const auto& metric : s.metrics) {
    const auto curve_a = reading.curve(a, metric, s.nfe[0]);
    const auto curve_b = reading.curve(b, metric, s.nfe[0]);
    if (curve_a.empty() || curve_b.empty()) continue;
    std::map<int64_t, double> by_step;
    for (const auto& p : curve_b) by_step[p.step] = p.value;
    const auto direction = reading.direction(metric);
    int64_t shared = 0, held = 0;
    std::optional<MetricPoint> worst_a;
    double worst_b = 0, worst_excess = -std::numeric_limits<double>::infinity();
    for (const auto& p : curve_a) {
      const auto it = by_step.find(p.step);
      if (it == by_step.end()) continue;
      ++shared;
      if (not_worse(p.value, it->second, s.rtol, direction)) ++held;
      // How much worse a is than b, relative to |b| (the step the verdict names).
      const double excess = (direction == "higher" ? it->second - p.value : p.value - it->second) /
                            std::max(std::fabs(it->second), std::numeric_limits<double>::min());
      if (!worst_a || excess > worst_excess || std::isnan(excess)) {
        worst_a = p;
        worst_b = it->second;
        worst_excess = std::isnan(excess) ? std::numeric_limits<double>::infinity() : excess;
      }
    }
    if (shared == 0) {
      reading.note(fmt::format("{} and {} share no evaluated step of {} at NFE {}", a, b, metric, s.nfe[0]));
      continue;
    }
    out.passed = out.passed && held == shared;
    out.numbers[metric] = {{"steps", shared},
                           {"steps_not_worse", held},
                           {"worst_step", worst_a->step},
                           {a, worst_a->value},
                           {b, worst_b}};
    out.parts.push_back(fmt::format("{}: {} not worse than {} at {} of {} steps (least margin at step {}: {} {} {})",
                                    metric, a, b, held, shared, worst_a->step, number(worst_a->value),
                                    relation(worst_a->value, worst_b), number(worst_b)));
  }
  return out;
}

FindingResult evaluate_one(const StoreContents& store, const SuiteRecord& suite, const FindingSpec& spec) {
  FindingResult result;
  result.spec = spec;
  result.suite = suite.name;
  result.numbers = nlohmann::json::object();
  if (const auto problem = shape_problem(spec); !problem.empty()) {
    result.missing = problem;
    return result;
  }
  Reading reading(store, suite, spec);
  Outcome outcome;
  if (spec.kind == "below") outcome = check_below(reading, spec);
  if (spec.kind == "decreasing") outcome = check_decreasing(reading, spec);
  if (spec.kind == "reaches_first") outcome = check_reaches_first(reading, spec);
  if (spec.kind == "nfe_improves") outcome = check_nfe_improves(reading, spec);
  if (spec.kind == "curve_not_worse") outcome = check_curve_not_worse(reading, spec);
  result.numbers = outcome.numbers;
  result.verdict = joined(outcome.parts, "; ");
  if (!reading.complete()) {
    result.missing = reading.missing();
    return result;
  }
  result.evaluable = true;
  result.passed = outcome.passed;
  return result;
}

}  // namespace

std::string FindingResult::status() const {
  if (!evaluable) return "n/a";
  return passed ? "pass" : "fail";
}

int64_t images_per_step(const RunRecord& run) {
  const auto config = nlohmann::json::parse(run.config_json, nullptr, false);
  if (config.is_object() && config.contains("train") && config["train"].is_object()) {
    const auto& batch = config["train"].value("batch", nlohmann::json());
    if (batch.is_number_integer() && batch.get<int64_t>() > 0) return batch.get<int64_t>();
  }
  int64_t last_step = 0;
  for (const auto& p : run.curve) last_step = std::max(last_step, p.step);
  return last_step > 0 ? run.images_seen / last_step : 0;
}

std::vector<MetricPoint> metric_curve(const RunRecord& run, const SuiteRecord* suite, const std::string& metric,
                                      int64_t nfe, const std::string& ema) {
  std::map<int64_t, std::vector<double>> by_step;
  for (const auto& e : run.evaluations) {
    if (e.metric == metric && e.nfe == nfe && e.ema == ema) by_step[e.step].push_back(e.value);
  }
  const auto aggregate = policy_for(suite, metric).aggregate;
  const int64_t batch = images_per_step(run);
  std::vector<MetricPoint> out;
  for (const auto& [step, values] : by_step) out.push_back({step, step * batch, aggregate_values(values, aggregate)});
  return out;
}

int64_t last_evaluated_step(const RunRecord& run) {
  int64_t last = 0;
  for (const auto& e : run.evaluations) last = std::max(last, e.step);
  return last;
}

std::vector<FindingResult> evaluate_findings(const StoreContents& store, const SuiteRecord& suite) {
  std::vector<FindingResult> out;
  for (const auto& spec : suite.findings) out.push_back(evaluate_one(store, suite, spec));
  return out;
}

std::vector<FindingResult> evaluate_store_findings(const std::vector<StoreContents>& stores,
                                                   const SuiteRecord* suite_override) {
  StoreContents merged;
  std::map<std::string, SuiteRecord> suites;
  for (const auto& store : stores) {
    merged.runs.insert(merged.runs.end(), store.runs.begin(), store.runs.end());
    for (const auto& suite : store.suites) suites[suite.name] = suite;
  }
  if (suite_override) return evaluate_findings(merged, *suite_override);
  std::vector<FindingResult> out;
  for (const auto& [name, suite] : suites) {
    auto results = evaluate_findings(merged, suite);
    out.insert(out.end(), results.begin(), results.end());
  }
  return out;
}

std::string finding_line(const FindingResult& result) {
  const auto status = result.evaluable ? (result.passed ? "PASS" : "FAIL") : "N/A ";
  const auto detail = result.evaluable ? result.verdict : "not evaluable: " + result.missing;
  return fmt::format("{} {}: {} | {}", status, result.spec.id, result.spec.claim, detail);
}

nlohmann::json finding_json(const FindingResult& result) {
  const auto& s = result.spec;
  return {{"suite", result.suite},     {"id", s.id},
          {"claim", s.claim},          {"kind", s.kind},
          {"stages", s.stages},        {"others", s.others},
          {"metrics", s.metrics},      {"nfe", s.nfe},
          {"threshold", s.threshold},  {"rtol", s.rtol},
          {"ema", s.ema},              {"why", s.why},
          {"status", result.status()}, {"passed", result.passed},
          {"evaluable", result.evaluable}, {"verdict", result.verdict},
          {"missing", result.missing}, {"numbers", result.numbers}};
}

}  // namespace cmbench::results

#include "results/table_model.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/progress.h"

namespace cmbench::results {

namespace {

// Decimals for a value's magnitude; kSignificant (3 significant digits, "1.82e-06") below 1e-3,
// where 4 decimals would print the exact metrics' small values (target variances) as 0.0000.
constexpr int kSignificant = -1;

int display_decimals(double v) {
  const double a = std::fabs(v);
  if (a >= 100) return 1;
  if (a >= 1) return 2;
  if (a > 0 && a < 1e-3) return kSignificant;
  return 4;
}

std::string display_value(double v, int decimals) {
  if (std::isnan(v)) return "nan";
  if (decimals == kSignificant) return fmt::format("{:.3g}", v);
  return fmt::format("{:.{}f}", v, decimals);
}

std::string display_value(double v) { return display_value(v, display_decimals(v)); }

// "2.02 ± 0.05": the deviation to the mean's decimals, as papers print it.
std::string display_mean_std(double mean, double stddev) {
  if (std::isnan(mean)) return "nan";
  const int decimals = display_decimals(mean);
  return display_value(mean, decimals) + " ± " + display_value(stddev, decimals);
}

std::string raw_value(double v) { return std::isnan(v) ? "nan" : fmt::format("{}", v); }

std::string display_count(int64_t n) {
  const double v = static_cast<double>(n);
  if (n < 1000) return fmt::format("{}", n);
  if (n < 1000000) return fmt::format("{:.1f}k", v / 1e3);
  if (n < 1000000000) return fmt::format("{:.2f}M", v / 1e6);
  return fmt::format("{:.2f}G", v / 1e9);
}

std::string metric_title(const std::string& metric) {
  if (metric == "fid") return "FID";
  if (metric == "is_mean") return "IS";
  if (metric == "is_std") return "IS std";
  if (metric == "swd") return "SWD";
  return metric;
}

Cell text_cell(const std::string& s) { return {s, s, false}; }
Cell number_cell(double v) { return {display_value(v), raw_value(v), true}; }
Cell count_cell(int64_t n) { return {display_count(n), fmt::format("{}", n), true}; }
Cell empty_cell(bool numeric) { return {"-", "", numeric}; }

// Published numbers are 50k-sample FIDs; ours with fewer samples are labelled with their count.
constexpr int64_t kPaperSamples = 50000;

// The row bound to this stage (`stage` key), else the first of its method at this NFE.
const ReferenceRow* published_for(const SuiteRecord* suite, const RunRecord& run, int64_t nfe) {
  if (!suite) return nullptr;
  const ReferenceRow* of_method = nullptr;
  for (const auto& r : suite->references) {
    if (r.nfe != nfe || r.method != run.method) continue;
    if (r.stage == run.stage) return &r;
    if (r.stage.empty() && !of_method) of_method = &r;
  }
  return of_method;
}

// How one metric's columns look across every row of the table. With one seed set everywhere it
// is one column, as it always was; with more, people get the best seed set and mean ± std, and
// machines every statistic.
struct MetricColumns {
  std::string metric;
  int64_t seed_sets = 1;      // the most seed sets any row combines
  bool mixed_counts = false;  // rows differ in how many seed sets they combine
  std::string best = "min";   // "min" or "max" as every suite's direction has it, "best" where they disagree
  bool several_seed_sets() const { return seed_sets > 1; }
};

MetricColumns metric_columns(const std::string& metric, const std::vector<StageResult>& stages) {
  std::set<int64_t> counts;
  std::set<std::string> directions;
  for (const auto& stage : stages) {
    for (const auto& [key, value] : stage.metrics) {
      if (key.second != metric) continue;
      counts.insert(value.seed_sets);
      directions.insert(policy_for(stage.suite, metric).direction);
    }
  }
  MetricColumns out{metric};
  if (!counts.empty()) out.seed_sets = *counts.rbegin();
  out.mixed_counts = counts.size() > 1;
  if (directions.size() > 1) out.best = "best";
  if (directions.size() == 1 && *directions.begin() == "higher") out.best = "max";
  return out;
}

std::string parenthesized(const std::vector<std::string>& parts) {
  if (parts.empty()) return "";
  std::string out = " (";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += ", ";
    out += parts[i];
  }
  return out + ")";
}

constexpr const char* kStatistics[] = {"min", "max", "mean", "std", "seed_sets"};

void add_metric_columns(SimpleTable& t, const MetricColumns& m) {
  const auto title = metric_title(m.metric);
  if (!m.several_seed_sets()) {
    t.columns.push_back({title, m.metric});
    return;
  }
  const auto of = m.mixed_counts ? std::string() : fmt::format(" of {}", m.seed_sets);
  t.columns.push_back({fmt::format("{} ({}{})", title, m.best, of), "", Audience::people});
  t.columns.push_back({fmt::format("{} (mean ± std{})", title, of), "", Audience::people});
  t.columns.push_back({"", m.metric, Audience::machines});
  for (const char* statistic : kStatistics) t.columns.push_back({"", m.metric + "_" + statistic, Audience::machines});
}

// The cells of add_metric_columns for one row; `labels` such as "n=256" follow the displayed values.
void add_metric_cells(std::vector<Cell>& row, const MetricColumns& m, const MetricValue* value,
                      const std::string& direction, std::vector<std::string> labels) {
  if (!m.several_seed_sets()) {
    row.push_back(value ? number_cell(value->value) : empty_cell(true));
    if (value) row.back().text += parenthesized(labels);
    return;
  }
  if (!value) {
    row.insert(row.end(), 3 + std::size(kStatistics), empty_cell(true));  // best, mean ± std, NAME, statistics
    return;
  }
  const bool spread = value->seed_sets > 1;
  if (m.mixed_counts) labels.push_back(fmt::format("{} seed set{}", value->seed_sets, spread ? "s" : ""));
  const double best = best_value(*value, direction);
  row.push_back({display_value(best) + parenthesized(labels), raw_value(best), true});
  const auto mean_std = display_mean_std(value->mean, value->stddev) + parenthesized(labels);
  row.push_back(spread ? Cell{mean_std, raw_value(value->mean), true} : empty_cell(true));
  row.push_back(number_cell(value->value));
  row.push_back(number_cell(value->min));
  row.push_back(number_cell(value->max));
  row.push_back(number_cell(value->mean));
  row.push_back(spread ? number_cell(value->stddev) : empty_cell(true));
  row.push_back(count_cell(value->seed_sets));
}

}  // namespace

std::vector<size_t> shown_columns(const SimpleTable& table, Audience reader) {
  std::vector<size_t> out;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const auto& column = table.columns[c];
    if (reader == Audience::machines ? column.for_machines() : column.for_people()) out.push_back(c);
  }
  return out;
}

TableModel build_table_model(const TableInput& input) {
  TableModel model;
  model.stages = stage_results(input.stores, input.suite);
  std::vector<MetricColumns> metrics;
  for (const auto& m : ordered_metrics(model.stages)) metrics.push_back(metric_columns(m, model.stages));
  std::set<std::string> suite_names;
  for (const auto& s : model.stages) suite_names.insert(s.run->suite);
  const bool show_suite = suite_names.size() > 1;

  auto& t = model.results;
  if (show_suite) t.columns.push_back({"Suite", "suite"});
  t.columns.insert(t.columns.end(), {{"Stage", "stage"}, {"Method", "method"}, {"NFE", "nfe"}});
  for (const auto& m : metrics) add_metric_columns(t, m);
  t.columns.insert(t.columns.end(), {{"Published", "published"},
                                     {"Paper", "published_label"},
                                     {"Diff", "difference"},
                                     {"Params", "parameters"},
                                     {"Images", "images_seen"},
                                     {"Wall time", "wall_seconds"},
                                     {"Device", "device"}});

  bool labelled_small = false;
  std::set<std::string> diffs_over_seed_sets;  // "FID min": what Diff compares where it combines seed sets
  for (const auto& stage : model.stages) {
    std::set<int64_t> nfes;
    for (const auto& [key, value] : stage.metrics) nfes.insert(key.first);
    if (nfes.empty()) nfes.insert(0);  // a run without evaluation still gets its row
    for (const int64_t nfe : nfes) {
      const RunRecord& run = *stage.run;
      std::vector<Cell> row;
      if (show_suite) row.push_back(text_cell(run.suite));
      row.push_back(text_cell(stage.label()));
      row.push_back(text_cell(run.method));
      row.push_back(nfe > 0 ? Cell{fmt::format("{}", nfe), fmt::format("{}", nfe), true} : empty_cell(true));
      for (const auto& m : metrics) {
        auto it = stage.metrics.find({nfe, m.metric});
        const MetricValue* value = it == stage.metrics.end() ? nullptr : &it->second;
        std::vector<std::string> labels;
        if (value && value->num_samples > 0 && value->num_samples < kPaperSamples && m.metric == "fid") {
          labels.push_back(fmt::format("n={}", value->num_samples));
          labelled_small = true;
        }
        add_metric_cells(row, m, value, policy_for(stage.suite, m.metric).direction, labels);
      }
      const ReferenceRow* ref = published_for(stage.suite, run, nfe);
      if (ref) {
        row.push_back(number_cell(ref->value));
        row.push_back(text_cell(ref->label));
        auto ours = stage.metrics.find({nfe, ref->metric});
        if (ours != stage.metrics.end()) {
          const double diff = ours->second.value - ref->value;
          row.push_back({fmt::format("{:+.2f}", diff), raw_value(diff), true});
          if (ours->second.seed_sets > 1) {
            diffs_over_seed_sets.insert(metric_title(ref->metric) + " " + ours->second.aggregate);
          }
        } else {
          row.push_back(empty_cell(true));
        }
      } else {
        row.push_back(empty_cell(true));
        row.push_back(empty_cell(false));
        row.push_back(empty_cell(true));
      }
      row.push_back(count_cell(run.parameters));
      row.push_back(count_cell(run.images_seen));
      row.push_back({format_duration(run.wall_seconds), raw_value(run.wall_seconds), true});
      row.push_back(text_cell(run.device));
      t.rows.push_back(std::move(row));
    }
  }
  if (std::any_of(metrics.begin(), metrics.end(), [](const MetricColumns& m) { return m.several_seed_sets(); })) {
    model.seed_set_note =
        "Over seed sets: min (max where higher is better) is the best seed set's value; mean ± std are the mean "
        "and the sample standard deviation (ddof 1).";
    if (std::any_of(metrics.begin(), metrics.end(), [](const MetricColumns& m) { return m.mixed_counts; })) {
      model.seed_set_note += " Where rows differ, a value names its number of seed sets; - has one seed set only.";
    }
    if (!diffs_over_seed_sets.empty()) {
      std::string compared;
      for (const auto& d : diffs_over_seed_sets) {
        if (!compared.empty()) compared += ", ";
        compared += d;
      }
      model.seed_set_note += fmt::format(" Diff is our {} over seed sets minus the published number.", compared);
    }
  }
  if (labelled_small) {
    model.notes.push_back("FID with (n=N) is computed from N < 50000 samples; it is biased upwards and not "
                          "comparable with the published 50k-sample numbers.");
  }

  auto& r = model.references;
  r.columns = {{"Method", "label"},     {"Compares with", "method"}, {"NFE", "nfe"},        {"Metric", "metric"},
               {"Published", "value"}, {"Samples", "num_samples"},  {"Source", "citation"}};
  std::vector<const SuiteRecord*> suites;
  if (input.suite) {
    suites.push_back(input.suite);
  } else {
    std::set<std::string> seen;
    for (const auto& store : input.stores) {
      for (const auto& s : store.suites) {
        if (seen.insert(s.name).second && suite_names.count(s.name)) suites.push_back(&s);
      }
    }
  }
  for (const auto* suite : suites) {
    for (const auto& ref : suite->references) {
      r.rows.push_back({text_cell(ref.label), text_cell(ref.method),
                        {fmt::format("{}", ref.nfe), fmt::format("{}", ref.nfe), true}, text_cell(metric_title(ref.metric)),
                        number_cell(ref.value), ref.num_samples > 0 ? count_cell(ref.num_samples) : empty_cell(true),
                        text_cell(ref.citation)});
    }
  }
  return model;
}

TableFormat parse_table_format(const std::string& name) {
  if (name == "md") return TableFormat::markdown;
  if (name == "latex") return TableFormat::latex;
  if (name == "csv") return TableFormat::csv;
  if (name == "html") return TableFormat::html;
  throw InputError(fmt::format("unknown table format '{}' (known: md, latex, csv, html)", name));
}

std::string render_table(const TableInput& input, TableFormat format) {
  const auto model = build_table_model(input);
  switch (format) {
    case TableFormat::markdown: return render_markdown(model);
    case TableFormat::latex: return render_latex(model);
    case TableFormat::csv: return render_csv(model);
    case TableFormat::html: return render_html(model, input);
  }
  return {};
}

}  // namespace cmbench::results

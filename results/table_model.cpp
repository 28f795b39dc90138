#include "results/table_model.h"

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/progress.h"

namespace cmbench::results {

namespace {

std::string display_value(double v) {
  if (std::isnan(v)) return "nan";
  const double a = std::fabs(v);
  if (a >= 100) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.4f}", v);
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

const ReferenceRow* published_for(const SuiteRecord* suite, const std::string& method, int64_t nfe) {
  if (!suite) return nullptr;
  for (const auto& r : suite->references) {
    if (r.method == method && r.nfe == nfe) return &r;
  }
  return nullptr;
}

}  // namespace

TableModel build_table_model(const TableInput& input) {
  TableModel model;
  model.stages = stage_results(input.stores, input.suite);
  const auto metrics = ordered_metrics(model.stages);
  std::set<std::string> suite_names;
  for (const auto& s : model.stages) suite_names.insert(s.run->suite);
  const bool show_suite = suite_names.size() > 1;

  auto& t = model.results;
  if (show_suite) {
    t.header.push_back("Suite");
    t.raw_header.push_back("suite");
  }
  for (const char* h : {"Stage", "Method", "NFE"}) t.header.push_back(h);
  for (const char* h : {"stage", "method", "nfe"}) t.raw_header.push_back(h);
  for (const auto& m : metrics) {
    t.header.push_back(metric_title(m));
    t.raw_header.push_back(m);
  }
  for (const char* h : {"Published", "Paper", "Diff", "Params", "Images", "Wall time", "Device"}) t.header.push_back(h);
  for (const char* h : {"published", "published_label", "difference", "parameters", "images_seen", "wall_seconds", "device"}) {
    t.raw_header.push_back(h);
  }

  bool labelled_small = false;
  for (const auto& stage : model.stages) {
    std::set<int64_t> nfes;
    for (const auto& [key, value] : stage.metrics) nfes.insert(key.first);
    if (nfes.empty()) nfes.insert(0);  // a run without evaluation still gets its row
    for (const int64_t nfe : nfes) {
      const RunRecord& run = *stage.run;
      std::vector<Cell> row;
      if (show_suite) row.push_back(text_cell(run.suite));
      row.push_back(text_cell(run.stage));
      row.push_back(text_cell(run.method));
      row.push_back(nfe > 0 ? Cell{fmt::format("{}", nfe), fmt::format("{}", nfe), true} : empty_cell(true));
      for (const auto& m : metrics) {
        auto it = stage.metrics.find({nfe, m});
        if (it == stage.metrics.end()) {
          row.push_back(empty_cell(true));
          continue;
        }
        Cell cell = number_cell(it->second.value);
        if (it->second.num_samples > 0 && it->second.num_samples < kPaperSamples && m == "fid") {
          cell.text += fmt::format(" (n={})", it->second.num_samples);
          labelled_small = true;
        }
        row.push_back(cell);
      }
      const ReferenceRow* ref = published_for(stage.suite, run.method, nfe);
      if (ref) {
        row.push_back(number_cell(ref->value));
        row.push_back(text_cell(ref->label));
        auto ours = stage.metrics.find({nfe, ref->metric});
        if (ours != stage.metrics.end()) {
          const double diff = ours->second.value - ref->value;
          row.push_back({fmt::format("{:+.2f}", diff), raw_value(diff), true});
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
  if (labelled_small) {
    model.notes.push_back("FID with (n=N) is computed from N < 50000 samples; it is biased upwards and not "
                          "comparable with the published 50k-sample numbers.");
  }

  auto& r = model.references;
  r.header = {"Method", "Compares with", "NFE", "Metric", "Published", "Samples", "Source"};
  r.raw_header = {"label", "method", "nfe", "metric", "value", "num_samples", "citation"};
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

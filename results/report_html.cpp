#include "results/report_html.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/gaussian_mixture.h"
#include "core/progress.h"
#include "results/base64.h"
#include "results/summary.h"
#include "results/svg_plot.h"
#include "results/table_model.h"

namespace cmbench::results {

namespace {

const char* const kStyle = R"css(body{font-family:sans-serif;margin:2em;color:#222;max-width:1400px;}
h2{margin-top:1.6em;border-bottom:1px solid #ccc;}
table{border-collapse:collapse;margin:1em 0;font-size:14px;}
.scroll{overflow-x:auto;}
th,td{padding:2px 8px;border-bottom:1px solid #ddd;}
th{border-bottom:2px solid #333;text-align:left;}
td.n{text-align:right;font-variant-numeric:tabular-nums;}
.plots{display:flex;flex-wrap:wrap;gap:12px;}
svg.plot{border:1px solid #ddd;font-family:sans-serif;}
.finding{margin:.6em 0;padding:.4em .6em;border-left:5px solid #999;background:#f7f7f7;}
.finding[data-status="pass"]{border-color:#2a8f3c;}
.finding[data-status="fail"]{border-color:#c62828;}
.badge{display:inline-block;min-width:3.2em;text-align:center;font-weight:bold;color:#fff;border-radius:3px;
padding:1px 4px;margin-right:.5em;background:#777;}
.badge.pass{background:#2a8f3c;}
.badge.fail{background:#c62828;}
.verdict{font-family:monospace;font-size:13px;margin-top:.3em;}
.why,.missing{font-size:13px;color:#555;margin-top:.2em;}
.grids img{image-rendering:pixelated;width:256px;}
figure{display:inline-block;margin:0 1em 1em 0;}
)css";

std::string escape(const std::string& s) { return markup_escape(s); }

void append_table(std::string& out, const SimpleTable& t, const std::string& css_class) {
  out += "<div class=\"scroll\">";
  append_html_table(out, t, css_class);
  out += "</div>\n";
}

std::string joined(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

// Each stage's run once (a run evaluated under several EMA profiles has one result per profile).
std::vector<const RunRecord*> distinct_runs(const std::vector<StageResult>& stages) {
  std::vector<const RunRecord*> out;
  for (const auto& s : stages) {
    if (std::find(out.begin(), out.end(), s.run) == out.end()) out.push_back(s.run);
  }
  return out;
}

std::vector<std::string> distinct(const std::vector<const RunRecord*>& runs, std::string RunRecord::*field) {
  std::vector<std::string> out;
  for (const auto* run : runs) {
    if (std::find(out.begin(), out.end(), run->*field) == out.end()) out.push_back(run->*field);
  }
  return out;
}

void append_suite(std::string& out, const ReportInput& input, const std::vector<StageResult>& stages) {
  const auto runs = distinct_runs(stages);
  out += "<section id=\"suite\">\n<h2>Suite</h2>\n";
  const auto suites = distinct(runs, &RunRecord::suite);
  out += fmt::format("<p>Suite <b>{}</b>", escape(joined(suites, ", ")));
  const auto datasets = distinct(runs, &RunRecord::dataset);
  if (!datasets.empty()) out += fmt::format(" on {}", escape(joined(datasets, ", ")));
  out += fmt::format(" (stores: {}).</p>\n", escape(joined(input.tables.store_names, ", ")));
  if (!input.description.empty()) out += "<p class=\"description\">" + escape(input.description) + "</p>\n";
  out += fmt::format("<p>cmbench {}; LibTorch {}; device {}.</p>\n", escape(joined(distinct(runs, &RunRecord::code_version), ", ")),
                     escape(joined(distinct(runs, &RunRecord::torch_version), ", ")),
                     escape(joined(distinct(runs, &RunRecord::device), ", ")));
  SimpleTable t;
  for (const char* title : {"Stage", "Method", "Network", "Params", "Dataset", "Seed", "Images seen", "Batch",
                            "Wall time", "Device", "Threads", "cmbench", "LibTorch"}) {
    t.columns.push_back({title, "", Audience::people});
  }
  const auto text = [](const std::string& s) { return Cell{s, s, false}; };
  const auto count = [](int64_t n) { return Cell{fmt::format("{}", n), fmt::format("{}", n), true}; };
  for (const auto* run : runs) {
    t.rows.push_back({text(run->stage), text(run->method), text(run->network), count(run->parameters),
                      text(run->dataset), count(run->seed), count(run->images_seen), count(images_per_step(*run)),
                      Cell{format_duration(run->wall_seconds), "", true}, text(run->device), count(run->threads),
                      text(run->code_version), text(run->torch_version)});
  }
  append_table(out, t, "provenance");
  out += "</section>\n";
}

void append_findings(std::string& out, const std::vector<FindingResult>& findings) {
  out += "<section id=\"findings\">\n<h2>Findings</h2>\n";
  if (findings.empty()) {
    out += "<p>The suite states no findings.</p>\n</section>\n";
    return;
  }
  std::map<std::string, int> counts;
  for (const auto& f : findings) ++counts[f.status()];
  out += fmt::format("<p>{} pass, {} fail, {} not evaluable.</p>\n", counts["pass"], counts["fail"], counts["n/a"]);
  for (const auto& f : findings) {
    const auto status = f.status();
    const std::string badge = status == "pass" ? "PASS" : status == "fail" ? "FAIL" : "N/A";
    out += fmt::format("<div class=\"finding\" data-status=\"{}\" data-id=\"{}\"><span class=\"badge {}\">{}</span>"
                       "<b>{}</b>: {}\n",
                       status, escape(f.spec.id), status == "n/a" ? "na" : status, badge, escape(f.spec.id),
                       escape(f.spec.claim));
    if (!f.verdict.empty()) out += "<div class=\"verdict\">" + escape(f.verdict) + "</div>\n";
    if (!f.evaluable) out += "<div class=\"missing\">Not evaluable: " + escape(f.missing) + "</div>\n";
    if (!f.spec.why.empty()) out += "<div class=\"why\">" + escape(f.spec.why) + "</div>\n";
    out += "</div>\n";
  }
  out += "</section>\n";
}

void append_tables(std::string& out, const TableModel& model) {
  out += "<section id=\"results\">\n<h2>Results</h2>\n";
  append_table(out, model.results, "results");
  if (!model.seed_set_note.empty()) out += "<p>" + escape(model.seed_set_note) + "</p>\n";
  for (const auto& note : model.notes) out += "<p>" + escape(note) + "</p>\n";
  if (!model.references.rows.empty()) {
    out += "<h3>Published reference numbers</h3>\n";
    append_table(out, model.references, "references");
  }
  out += "</section>\n";
}

std::string at_nfe(int64_t nfe) { return nfe > 0 ? fmt::format(" at NFE {}", nfe) : ""; }

// Every NFE at which any row of `metric` was evaluated for a stage's weights.
std::set<int64_t> evaluated_nfes(const std::vector<StageResult>& stages, const std::string& metric) {
  std::set<int64_t> out;
  for (const auto& s : stages) {
    for (const auto& e : s.run->evaluations) {
      if (e.metric == metric && e.ema == s.ema) out.insert(e.nfe);
    }
  }
  return out;
}

void append_training_curves(std::string& out, const std::vector<StageResult>& stages,
                            const std::vector<std::string>& metrics) {
  out += "<section id=\"curves\">\n<h2>Metrics against training images</h2>\n<div class=\"plots\">\n";
  for (const auto& metric : metrics) {
    for (const int64_t nfe : evaluated_nfes(stages, metric)) {
      LineChart chart;
      chart.title = metric + at_nfe(nfe);
      chart.x_label = "training images seen";
      chart.y_label = metric;
      chart.metric = metric;
      chart.kind = "images";
      chart.attributes = {{"nfe", std::to_string(nfe)}};
      for (const auto& s : stages) {
        PlotSeries series{s.label(), {}};
        if (images_per_step(*s.run) == 0) continue;  // nothing says how many images a step saw
        for (const auto& p : metric_curve(*s.run, s.suite, metric, nfe, s.ema)) {
          series.points.push_back({static_cast<double>(p.images), p.value});
        }
        if (!series.points.empty()) chart.series.push_back(std::move(series));
      }
      out += line_chart_svg(chart);
    }
  }
  out += "</div>\n</section>\n";
}

void append_nfe_curves(std::string& out, const std::vector<StageResult>& stages, const std::vector<std::string>& metrics) {
  std::string charts;
  for (const auto& metric : metrics) {
    LineChart chart;
    chart.title = metric + " against NFE";
    chart.x_label = "NFE (network evaluations per sample)";
    chart.y_label = metric;
    chart.metric = metric;
    chart.kind = "nfe";
    chart.x_scale = Scale::automatic;
    bool several = false;
    for (const auto& s : stages) {
      PlotSeries series{s.label(), {}};
      for (const auto& [key, value] : s.metrics) {
        if (key.second == metric) series.points.push_back({static_cast<double>(key.first), value.value});
      }
      several = several || series.points.size() >= 2;
      if (!series.points.empty()) chart.series.push_back(std::move(series));
    }
    if (several) charts += line_chart_svg(chart);
  }
  if (charts.empty()) return;
  out += "<section id=\"nfe\">\n<h2>Final values against NFE</h2>\n<div class=\"plots\">\n" + charts + "</div>\n</section>\n";
}

// Metrics measured per noise-level bucket: FAMILY_tK for bucket K of truth_bucket_edges().
constexpr const char* kBucketFamilies[] = {"tvar", "tbias", "cerr"};

void append_bucket_plots(std::string& out, const std::vector<StageResult>& stages) {
  const auto& edges = truth_bucket_edges();
  std::string charts;
  for (const char* family : kBucketFamilies) {
    LineChart chart;
    chart.title = fmt::format("{} per noise level", family);
    chart.x_label = "t (geometric centre of the bucket)";
    chart.y_label = family;
    chart.metric = family;
    chart.kind = "t";
    chart.x_scale = Scale::log;
    for (const auto& s : stages) {
      // One series per stage and NFE the family was evaluated at (target statistics: NFE 0).
      std::map<int64_t, PlotSeries> by_nfe;
      for (int64_t k = 0; k < truth_bucket_count(); ++k) {
        const auto metric = fmt::format("{}_t{}", family, k);
        const double centre = std::sqrt(edges[k] * edges[k + 1]);
        for (const auto& [key, value] : s.metrics) {
          if (key.second == metric) by_nfe[key.first].points.push_back({centre, value.value});
        }
      }
      for (auto& [nfe, series] : by_nfe) {
        series.name = by_nfe.size() > 1 ? s.label() + at_nfe(nfe) : s.label();
        chart.series.push_back(std::move(series));
      }
    }
    if (!chart.series.empty()) charts += line_chart_svg(chart);
  }
  if (charts.empty()) return;
  std::string buckets;
  for (size_t k = 0; k + 1 < edges.size(); ++k) buckets += fmt::format("{}[{}, {})", k ? ", " : "", edges[k], edges[k + 1]);
  out += "<section id=\"buckets\">\n<h2>Per noise level</h2>\n<p>Buckets of t: " + buckets +
         "; tvar and tbias: the training target's variance and squared bias against the exact PF-ODE step, cerr: "
         "the consistency error against the exact consistency function.</p>\n<div class=\"plots\">\n" +
         charts + "</div>\n</section>\n";
}

void append_stages(std::string& out, const std::vector<StageResult>& stages) {
  out += "<section id=\"stages\">\n<h2>Stages</h2>\n";
  for (const auto* run : distinct_runs(stages)) {
    out += fmt::format("<section class=\"stage\" data-stage=\"{}\">\n<h3>{} ({})</h3>\n", escape(run->stage),
                       escape(run->stage), escape(run->method));
    out += loss_curve_svg(run->curve);
    if (!run->grids.empty()) {
      out += "<div class=\"grids\">\n";
      for (const auto& grid : run->grids) {
        out += fmt::format("<figure><img alt=\"{} samples at NFE {}\" src=\"data:image/png;base64,{}\">"
                           "<figcaption>NFE {}</figcaption></figure>\n",
                           escape(run->stage), grid.nfe, base64_encode(grid.png), grid.nfe);
      }
      out += "</div>\n";
    }
    out += "</section>\n";
  }
  out += "</section>\n";
}

std::string default_title(const std::vector<StageResult>& stages, const TableInput& tables) {
  auto names = distinct(distinct_runs(stages), &RunRecord::suite);
  if (names.empty()) names = tables.store_names;
  return "cmbench report: " + joined(names, ", ");
}

}  // namespace

std::string render_report(const ReportInput& input) {
  const TableModel model = build_table_model(input.tables);
  const auto& stages = model.stages;
  const auto metrics = ordered_metrics(stages);
  const auto title = input.title.empty() ? default_title(stages, input.tables) : input.title;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + escape(title) +
                    "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n<h1>" + escape(title) + "</h1>\n";
  append_suite(out, input, stages);
  append_findings(out, input.findings);
  append_tables(out, model);
  append_training_curves(out, stages, metrics);
  append_nfe_curves(out, stages, metrics);
  append_bucket_plots(out, stages);
  append_stages(out, stages);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace cmbench::results

// The self-contained HTML report: the tables, then per stage its loss curve (inline SVG) and
// sample grids (PNG data URIs). No external resources, no timestamps.
#include <fmt/format.h>

#include "results/base64.h"
#include "results/svg_plot.h"
#include "results/table_model.h"

namespace cmbench::results {

void append_html_table(std::string& out, const SimpleTable& t, const std::string& css_class) {
  const auto shown = shown_columns(t, Audience::people);
  out += css_class.empty() ? "<table>" : "<table class=\"" + markup_escape(css_class) + "\">";
  out += "\n<thead><tr>";
  for (size_t c : shown) out += "<th>" + markup_escape(t.columns[c].title) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (size_t c : shown) out += (row[c].numeric ? "<td class=\"n\">" : "<td>") + markup_escape(row[c].text) + "</td>";
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
}

std::string render_html(const TableModel& model, const TableInput& input) {
  std::string title = "cmbench results";
  for (size_t i = 0; i < input.store_names.size(); ++i) title += (i ? ", " : ": ") + input.store_names[i];
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                    markup_escape(title) + "</title>\n";
  out += "<style>\nbody{font-family:sans-serif;margin:2em;}\ntable{border-collapse:collapse;margin:1em 0;}\n"
         "th,td{padding:2px 8px;border-bottom:1px solid #ccc;}\nth{border-bottom:2px solid #333;text-align:left;}\n"
         "td.n{text-align:right;font-variant-numeric:tabular-nums;}\n"
         ".grids img{image-rendering:pixelated;width:256px;margin-right:1em;}\n</style>\n</head>\n<body>\n";
  out += "<h1>" + markup_escape(title) + "</h1>\n<h2>Results</h2>\n";
  append_html_table(out, model.results);
  if (!model.seed_set_note.empty()) out += "<p>" + markup_escape(model.seed_set_note) + "</p>\n";
  for (const auto& note : model.notes) out += "<p>" + markup_escape(note) + "</p>\n";
  if (!model.references.rows.empty()) {
    out += "<h2>Published reference numbers</h2>\n";
    append_html_table(out, model.references);
  }
  for (const auto& stage : model.stages) {
    const RunRecord& run = *stage.run;
    out += fmt::format("<h2>{} / {} ({})</h2>\n", markup_escape(run.suite), markup_escape(run.stage), markup_escape(run.method));
    out += fmt::format("<p>{} on {}; {} parameters; seed {}; {}; {} threads; cmbench {}, LibTorch {}</p>\n",
                       markup_escape(run.network), markup_escape(run.dataset), run.parameters, run.seed,
                       markup_escape(run.device), run.threads, markup_escape(run.code_version), markup_escape(run.torch_version));
    out += "<h3>Training loss</h3>\n" + loss_curve_svg(run.curve);
    if (!run.grids.empty()) {
      out += "<h3>Samples</h3>\n<div class=\"grids\">\n";
      for (const auto& grid : run.grids) {
        out += fmt::format("<figure style=\"display:inline-block\"><img alt=\"{} NFE {}\" src=\"data:image/png;base64,{}\">"
                           "<figcaption>NFE {}</figcaption></figure>\n",
                           markup_escape(run.stage), grid.nfe, base64_encode(grid.png), grid.nfe);
      }
      out += "</div>\n";
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace cmbench::results

// Markdown, CSV and LaTeX (booktabs) renderings of a table model.
#include <string>

#include <fmt/format.h>

#include "results/table_model.h"

namespace cmbench::results {

namespace {

std::string markdown_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

void markdown_table(std::string& out, const SimpleTable& t) {
  out += "|";
  for (const auto& h : t.header) out += fmt::format(" {} |", markdown_escape(h));
  out += "\n|";
  for (size_t c = 0; c < t.header.size(); ++c) {
    const bool numeric = !t.rows.empty() && t.rows.front()[c].numeric;
    out += numeric ? "---:|" : "---|";
  }
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const auto& cell : row) out += fmt::format(" {} |", markdown_escape(cell.text));
    out += "\n";
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += c; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      default: out += c;
    }
  }
  return out;
}

void latex_table(std::string& out, const SimpleTable& t, const std::string& caption) {
  std::string spec;
  for (size_t c = 0; c < t.header.size(); ++c) spec += (!t.rows.empty() && t.rows.front()[c].numeric) ? "r" : "l";
  out += "\\begin{table}[t]\n\\centering\n\\caption{" + latex_escape(caption) + "}\n";
  out += "\\begin{tabular}{" + spec + "}\n\\toprule\n";
  for (size_t c = 0; c < t.header.size(); ++c) out += (c ? " & " : "") + latex_escape(t.header[c]);
  out += " \\\\\n\\midrule\n";
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < row.size(); ++c) out += (c ? " & " : "") + latex_escape(row[c].text);
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
}

}  // namespace

std::string render_markdown(const TableModel& model) {
  std::string out;
  markdown_table(out, model.results);
  for (const auto& note : model.notes) out += "\n" + note + "\n";
  if (!model.references.rows.empty()) {
    out += "\nPublished reference numbers:\n\n";
    markdown_table(out, model.references);
  }
  return out;
}

std::string render_csv(const TableModel& model) {
  std::string out;
  const auto& t = model.results;
  for (size_t c = 0; c < t.raw_header.size(); ++c) {
    if (c) out += ',';
    out += csv_field(t.raw_header[c]);
  }
  out += "\n";
  for (const auto& row : t.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c) out += ',';
      out += csv_field(row[c].raw);
    }
    out += "\n";
  }
  return out;
}

std::string render_latex(const TableModel& model) {
  std::string out = "% requires \\usepackage{booktabs}\n";
  latex_table(out, model.results, "Our results (metrics combined over seed sets) beside the published numbers.");
  for (const auto& note : model.notes) out += "% " + note + "\n";
  if (!model.references.rows.empty()) {
    out += "\n";
    latex_table(out, model.references, "Published reference numbers.");
  }
  return out;
}

}  // namespace cmbench::results

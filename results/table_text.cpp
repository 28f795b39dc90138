// Markdown, CSV and LaTeX (booktabs) renderings of a table model.
#include <string>
#include <vector>

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
  const auto shown = shown_columns(t, Audience::people);
  out += "|";
  for (size_t c : shown) out += fmt::format(" {} |", markdown_escape(t.columns[c].title));
  out += "\n|";
  for (size_t c : shown) {
    const bool numeric = !t.rows.empty() && t.rows.front()[c].numeric;
    out += numeric ? "---:|" : "---|";
  }
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (size_t c : shown) out += fmt::format(" {} |", markdown_escape(row[c].text));
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
  static const std::string plus_minus = "±";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, plus_minus.size(), plus_minus) == 0) {
      out += "$\\pm$";
      i += plus_minus.size() - 1;
      continue;
    }
    const char c = s[i];
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
  const auto shown = shown_columns(t, Audience::people);
  std::string spec;
  for (size_t c : shown) spec += (!t.rows.empty() && t.rows.front()[c].numeric) ? "r" : "l";
  out += "\\begin{table}[t]\n\\centering\n\\caption{" + latex_escape(caption) + "}\n";
  out += "\\begin{tabular}{" + spec + "}\n\\toprule\n";
  for (size_t i = 0; i < shown.size(); ++i) out += (i ? " & " : "") + latex_escape(t.columns[shown[i]].title);
  out += " \\\\\n\\midrule\n";
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < shown.size(); ++i) out += (i ? " & " : "") + latex_escape(row[shown[i]].text);
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
}

}  // namespace

std::string render_markdown(const TableModel& model) {
  std::string out;
  markdown_table(out, model.results);
  if (!model.seed_set_note.empty()) out += "\n" + model.seed_set_note + "\n";
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
  const auto shown = shown_columns(t, Audience::machines);
  for (size_t i = 0; i < shown.size(); ++i) {
    if (i) out += ',';
    out += csv_field(t.columns[shown[i]].raw_name);
  }
  out += "\n";
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < shown.size(); ++i) {
      if (i) out += ',';
      out += csv_field(row[shown[i]].raw);
    }
    out += "\n";
  }
  return out;
}

std::string render_latex(const TableModel& model) {
  std::string out = "% requires \\usepackage{booktabs}\n";
  std::string caption = "Our results (metrics combined over seed sets) beside the published numbers.";
  if (!model.seed_set_note.empty()) caption += " " + model.seed_set_note;
  latex_table(out, model.results, caption);
  for (const auto& note : model.notes) out += "% " + note + "\n";
  if (!model.references.rows.empty()) {
    out += "\n";
    latex_table(out, model.references, "Published reference numbers.");
  }
  return out;
}

}  // namespace cmbench::results

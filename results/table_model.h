// The format-independent content of a result table (results/table.h): cells carry display text
// and a raw machine-readable value (CSV).
#pragma once

#include <string>
#include <vector>

#include "results/summary.h"
#include "results/table.h"

namespace cmbench::results {

struct Cell {
  std::string text;  // for people: rounded, with units
  std::string raw;   // for machines: full precision, plain
  bool numeric = false;
};

// Who reads a column: a metric over several seed sets is two columns for people (best, mean ± std)
// and one column per statistic for machines.
enum class Audience { everyone, people, machines };

struct Column {
  std::string title;     // display name
  std::string raw_name;  // CSV name
  Audience audience = Audience::everyone;
  bool for_people() const { return audience != Audience::machines; }
  bool for_machines() const { return audience != Audience::people; }
};

struct SimpleTable {
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;  // one cell per column
};

// The indices of the columns `table` shows to `reader` (people: markdown, LaTeX, HTML; machines: CSV).
std::vector<size_t> shown_columns(const SimpleTable& table, Audience reader);

struct TableModel {
  SimpleTable results;
  SimpleTable references;
  std::vector<StageResult> stages;  // for the HTML sections (curves, grids)
  std::string seed_set_note;        // how values over several seed sets are shown; "" with one seed set
  std::vector<std::string> notes;
};

TableModel build_table_model(const TableInput& input);

std::string render_markdown(const TableModel& model);
std::string render_csv(const TableModel& model);
std::string render_latex(const TableModel& model);
std::string render_html(const TableModel& model, const TableInput& input);
// One table as HTML (the columns people see; numeric cells right-aligned), appended to `out`.
void append_html_table(std::string& out, const SimpleTable& t, const std::string& css_class = "");

}  // namespace cmbench::results

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

struct SimpleTable {
  std::vector<std::string> header;      // display names
  std::vector<std::string> raw_header;  // CSV names
  std::vector<std::vector<Cell>> rows;
};

struct TableModel {
  SimpleTable results;
  SimpleTable references;
  std::vector<StageResult> stages;  // for the HTML sections (curves, grids)
  std::vector<std::string> notes;
};

TableModel build_table_model(const TableInput& input);

std::string render_markdown(const TableModel& model);
std::string render_csv(const TableModel& model);
std::string render_latex(const TableModel& model);
std::string render_html(const TableModel& model, const TableInput& input);

}  // namespace cmbench::results

// `cmbench table`: rows = stage method x NFE; columns = our metrics, the published number and the
// difference (ours combined over seed sets as configured), network parameters, training images
// seen, wall time and device; below, the published reference rows with their citation. A metric
// over several seed sets shows the best seed set and mean ± std (sample std) with their count; the
// CSV gives it as NAME (as configured), NAME_min, NAME_max, NAME_mean, NAME_std, NAME_seed_sets.
// Output depends only on the stores' contents, so regenerating gives identical bytes.
#pragma once

#include <string>
#include <vector>

#include "results/records.h"

namespace cmbench::results {

enum class TableFormat { markdown, latex, csv, html };
TableFormat parse_table_format(const std::string& name);  // md, latex, csv, html

struct TableInput {
  std::vector<StoreContents> stores;
  std::vector<std::string> store_names;   // for the HTML title
  const SuiteRecord* suite = nullptr;     // --suite: only this suite, its policies and references
};

std::string render_table(const TableInput& input, TableFormat format);

}  // namespace cmbench::results

// `cmbench report`: one self-contained HTML page of result stores (no network: inline CSS, inline
// SVG charts, sample grids as PNG data URIs; no script). In order: the suite and the provenance of
// each stage's run; the findings with PASS/FAIL/N/A badges (class "finding", data-status pass, fail
// or n/a); the results table (results/table_model.h) and the published numbers; per metric and NFE
// its value against training images seen (every evaluated step); per metric evaluated at >= 2 NFE
// its final value against NFE; the per-noise-level metrics (tvar_t*, tbias_t*, cerr_t*) against the
// bucket's t (core/gaussian_mixture.h truth_bucket_edges); per stage its loss curve and grids.
// Every chart is an <svg class="plot" data-metric=...> (results/svg_plot.h). The page depends only
// on its input: the same stores give the same bytes.
#pragma once

#include <string>
#include <vector>

#include "results/findings.h"
#include "results/table.h"

namespace cmbench::results {

struct ReportInput {
  TableInput tables;                  // the stores, their names, and --suite's record
  std::string title;                  // "" : "cmbench report: SUITE, ..."
  std::string description;            // the suite file's description; "" when none is known
  std::vector<FindingResult> findings;
};

std::string render_report(const ReportInput& input);

}  // namespace cmbench::results

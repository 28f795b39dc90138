#include <gtest/gtest.h>

#include "results/store.h"
#include "results/table.h"
#include "test_results_fixture.h"
#include "test_util.h"

using namespace cmbench;
using namespace cmbench::results;

namespace {

// Two stages of one suite; FID combines seed sets with "min", SWD with "mean" (sample_suite).
TableInput sample_input() {
  StoreContents store;
  store.runs.push_back(test::sample_run("smoke", "teacher", "edm"));
  store.runs.push_back(test::sample_run("smoke", "ect", "ect", -1.0));
  store.suites.push_back(test::sample_suite("smoke"));
  TableInput input;
  input.stores.push_back(store);
  input.store_names.push_back("results.h5");
  return input;
}

const char* const kMarkdown = R"golden(| Stage | Method | NFE | FID | SWD | Published | Paper | Diff | Params | Images | Wall time | Device |
|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|
| teacher | edm | 1 | 100.0 (n=256) | 0.2500 | - | - | - | 301.3k | 1.3k | 02:01 | cpu (2 threads) |
| teacher | edm | 2 | 50.00 (n=256) | 0.1250 | - | - | - | 301.3k | 1.3k | 02:01 | cpu (2 threads) |
| ect | ect | 1 | 99.00 (n=256) | 0.2400 | 3.86 | ECT (bs 128, 200k it) | +95.14 | 301.3k | 1.3k | 02:01 | cpu (2 threads) |
| ect | ect | 2 | 49.00 (n=256) | 0.1150 | 2.15 | ECT (bs 128, 200k it) | +46.85 | 301.3k | 1.3k | 02:01 | cpu (2 threads) |

FID with (n=N) is computed from N < 50000 samples; it is biased upwards and not comparable with the published 50k-sample numbers.

Published reference numbers:

| Method | Compares with | NFE | Metric | Published | Samples | Source |
|---|---|---:|---|---:|---:|---|
| ECT (bs 128, 200k it) | ect | 1 | FID | 3.86 | 50.0k | Geng et al. 2024, ECT, Table 1 |
| ECT (bs 128, 200k it) | ect | 2 | FID | 2.15 | 50.0k | Geng et al. 2024, ECT, Table 1 |
| EDM | edm | 35 | FID | 1.97 | 50.0k | Karras et al. 2022, EDM, Table 2 |
)golden";

const char* const kCsv = R"golden(stage,method,nfe,fid,swd,published,published_label,difference,parameters,images_seen,wall_seconds,device
teacher,edm,1,100,0.25,,,,301251,1280,120.5,cpu (2 threads)
teacher,edm,2,50,0.125,,,,301251,1280,120.5,cpu (2 threads)
ect,ect,1,99,0.24,3.86,"ECT (bs 128, 200k it)",95.14,301251,1280,120.5,cpu (2 threads)
ect,ect,2,49,0.115,2.15,"ECT (bs 128, 200k it)",46.85,301251,1280,120.5,cpu (2 threads)
)golden";

const char* const kLatex = R"golden(% requires \usepackage{booktabs}
\begin{table}[t]
\centering
\caption{Our results (metrics combined over seed sets) beside the published numbers.}
\begin{tabular}{llrrrrlrrrrl}
\toprule
Stage & Method & NFE & FID & SWD & Published & Paper & Diff & Params & Images & Wall time & Device \\
\midrule
teacher & edm & 1 & 100.0 (n=256) & 0.2500 & - & - & - & 301.3k & 1.3k & 02:01 & cpu (2 threads) \\
teacher & edm & 2 & 50.00 (n=256) & 0.1250 & - & - & - & 301.3k & 1.3k & 02:01 & cpu (2 threads) \\
ect & ect & 1 & 99.00 (n=256) & 0.2400 & 3.86 & ECT (bs 128, 200k it) & +95.14 & 301.3k & 1.3k & 02:01 & cpu (2 threads) \\
ect & ect & 2 & 49.00 (n=256) & 0.1150 & 2.15 & ECT (bs 128, 200k it) & +46.85 & 301.3k & 1.3k & 02:01 & cpu (2 threads) \\
\bottomrule
\end{tabular}
\end{table}
% FID with (n=N) is computed from N < 50000 samples; it is biased upwards and not comparable with the published 50k-sample numbers.

\begin{table}[t]
\centering
\caption{Published reference numbers.}
\begin{tabular}{llrlrrl}
\toprule
Method & Compares with & NFE & Metric & Published & Samples & Source \\
\midrule
ECT (bs 128, 200k it) & ect & 1 & FID & 3.86 & 50.0k & Geng et al. 2024, ECT, Table 1 \\
ECT (bs 128, 200k it) & ect & 2 & FID & 2.15 & 50.0k & Geng et al. 2024, ECT, Table 1 \\
EDM & edm & 35 & FID & 1.97 & 50.0k & Karras et al. 2022, EDM, Table 2 \\
\bottomrule
\end{tabular}
\end{table}
)golden";

}  // namespace

TEST(ResultTable, MarkdownGolden) { EXPECT_EQ(render_table(sample_input(), TableFormat::markdown), kMarkdown); }
TEST(ResultTable, CsvGolden) { EXPECT_EQ(render_table(sample_input(), TableFormat::csv), kCsv); }
TEST(ResultTable, LatexGolden) { EXPECT_EQ(render_table(sample_input(), TableFormat::latex), kLatex); }

TEST(ResultTable, HtmlIsSelfContainedWithCurvesAndGrids) {
  auto input = sample_input();
  input.stores[0].runs[1].grids.push_back({1, {0x89, 'P', 'N', 'G', 1, 2, 3}});
  const auto html = render_table(input, TableFormat::html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<polyline"), std::string::npos);            // loss curve, inline SVG
  EXPECT_NE(html.find("data:image/png;base64,iVBORwECAw=="), std::string::npos);  // the grid's bytes
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no external resource
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"n\">99.00 (n=256)</td>"), std::string::npos);
}

TEST(ResultTable, RegeneratingFromTheStoreGivesIdenticalBytes) {
  test::TempDir dir;
  const auto path = dir.file("results.h5");
  const auto input = sample_input();
  write_store(path, input.stores[0]);
  TableInput first, second;
  first.stores.push_back(read_store(path));
  second.stores.push_back(read_store(path));
  for (auto format : {TableFormat::markdown, TableFormat::csv, TableFormat::latex, TableFormat::html}) {
    EXPECT_EQ(render_table(first, format), render_table(second, format));
  }
  EXPECT_EQ(render_table(first, TableFormat::markdown), kMarkdown);  // the store round trip changes nothing
}

TEST(ResultTable, SuiteOverrideSelectsItsRunsAndReferences) {
  auto input = sample_input();
  input.stores[0].runs.push_back(test::sample_run("other", "ect", "ect"));
  auto suite = test::sample_suite("smoke");
  suite.references = {{"edm", "EDM (a label)", 2, "fid", 2.0, 50000, "somewhere"}};
  input.suite = &suite;
  const auto md = render_table(input, TableFormat::markdown);
  EXPECT_EQ(md.find("other"), std::string::npos);
  EXPECT_NE(md.find("| teacher | edm | 2 | 50.00 (n=256) | 0.1250 | 2.00 | EDM (a label) | +48.00 |"), std::string::npos);
  EXPECT_EQ(md.find("ECT (bs 128"), std::string::npos);
}

TEST(ResultTable, SeveralSuitesGetASuiteColumn) {
  auto input = sample_input();
  input.stores[0].runs.push_back(test::sample_run("other", "ect", "ect"));
  const auto csv = render_table(input, TableFormat::csv);
  EXPECT_EQ(csv.rfind("suite,stage,method,nfe,", 0), 0u);
  // No suite record for "other": seed sets combine with the default mean, (100 + 102) / 2.
  EXPECT_NE(csv.find("\nother,ect,ect,1,101,"), std::string::npos) << csv;
}

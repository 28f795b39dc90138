#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "core/error.h"
#include "results/store.h"
#include "results/summary.h"
#include "results/table.h"
#include "test_results_fixture.h"
#include "test_util.h"

using namespace cmbench;
using namespace cmbench::results;

namespace {

// Two stages of one suite; FID combines seed sets with "min", SWD with "mean" (sample_suite).
TableInput sample_input(int seed_sets = 2) {
  StoreContents store;
  store.runs.push_back(test::sample_run("smoke", "teacher", "edm", 0, seed_sets));
  store.runs.push_back(test::sample_run("smoke", "ect", "ect", -1.0, seed_sets));
  store.suites.push_back(test::sample_suite("smoke"));
  TableInput input;
  input.stores.push_back(store);
  input.store_names.push_back("results.h5");
  return input;
}

// EDM's three 50k seed sets: the teacher at NFE 35 (FID 2.03, 1.97, 2.06 as EDM's 1.97 is their
// min) and ECT at NFE 1; IS is higher-is-better and combines with "mean" (seed_set_suite).
StoreContents three_seed_set_store(const std::string& suite = "paper") {
  StoreContents store;
  store.runs.push_back(test::seed_set_run(suite, "teacher", "edm", 35, {2.03, 1.97, 2.06}, {9.84, 9.78, 9.90}));
  store.runs.push_back(test::seed_set_run(suite, "ect", "ect", 1, {3.60, 3.70, 3.65}, {9.10, 9.20, 9.30}));
  store.suites.push_back(test::seed_set_suite(suite));
  return store;
}

TableInput three_seed_set_input() {
  TableInput input;
  input.stores.push_back(three_seed_set_store());
  input.store_names.push_back("paper.h5");
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

// min 1.97, mean 2.02, sample std 0.0458 (FID); max 9.90, mean 9.84, std 0.06 (IS); ECT FID 3.60,
// 3.65 +- 0.05, IS 9.30, 9.20 +- 0.10. Diff uses the FID policy's min.
const char* const kMarkdownThreeSeedSets =
    R"golden(| Stage | Method | NFE | FID (min of 3) | FID (mean ± std of 3) | IS (max of 3) | IS (mean ± std of 3) | Published | Paper | Diff | Params | Images | Wall time | Device |
|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|
| teacher | edm | 35 | 1.97 | 2.02 ± 0.05 | 9.90 | 9.84 ± 0.06 | 1.97 | EDM | +0.00 | 301.3k | 1.3k | 02:01 | cpu (2 threads) |
| ect | ect | 1 | 3.60 | 3.65 ± 0.05 | 9.30 | 9.20 ± 0.10 | 3.86 | ECT (bs 128, 200k it) | -0.26 | 301.3k | 1.3k | 02:01 | cpu (2 threads) |

Over seed sets: min (max where higher is better) is the best seed set's value; mean ± std are the mean and the sample standard deviation (ddof 1). Diff is our FID min over seed sets minus the published number.

Published reference numbers:

| Method | Compares with | NFE | Metric | Published | Samples | Source |
|---|---|---:|---|---:|---:|---|
| ECT (bs 128, 200k it) | ect | 1 | FID | 3.86 | 50.0k | Geng et al. 2024, ECT, Table 1 |
| ECT (bs 128, 200k it) | ect | 2 | FID | 2.15 | 50.0k | Geng et al. 2024, ECT, Table 1 |
| EDM | edm | 35 | FID | 1.97 | 50.0k | Karras et al. 2022, EDM, Table 2 |
)golden";

// CSV keeps NAME as the policy combines it and adds every statistic, at full precision.
const char* const kCsvThreeSeedSets =
    R"golden(stage,method,nfe,fid,fid_min,fid_max,fid_mean,fid_std,fid_seed_sets,is_mean,is_mean_min,is_mean_max,is_mean_mean,is_mean_std,is_mean_seed_sets,published,published_label,difference,parameters,images_seen,wall_seconds,device
teacher,edm,35,1.97,1.97,2.06,2.02,0.04582575694955842,3,9.839999999999998,9.78,9.9,9.839999999999998,0.0600000000000005,3,1.97,EDM,0,301251,1280,120.5,cpu (2 threads)
ect,ect,1,3.6,3.6,3.7,3.6500000000000004,0.050000000000000044,3,9.2,9.1,9.3,9.2,0.10000000000000053,3,3.86,"ECT (bs 128, 200k it)",-0.2599999999999998,301251,1280,120.5,cpu (2 threads)
)golden";

}  // namespace

// One seed set: the table is exactly what it was before seed sets were summarized.
TEST(ResultTable, MarkdownGolden) { EXPECT_EQ(render_table(sample_input(1), TableFormat::markdown), kMarkdown); }
TEST(ResultTable, CsvGolden) { EXPECT_EQ(render_table(sample_input(1), TableFormat::csv), kCsv); }
TEST(ResultTable, LatexGolden) { EXPECT_EQ(render_table(sample_input(1), TableFormat::latex), kLatex); }

// Values below 1e-3 (the exact metrics' target variances) keep 3 significant digits instead of
// printing as 0.0000; the CSV keeps full precision.
TEST(ResultTable, SmallValuesKeepSignificantDigits) {
  auto input = sample_input(1);
  for (auto& row : input.stores[0].runs[0].evaluations) {
    if (row.metric == "swd") row.value = row.nfe == 1 ? 1.816e-6 : -2.5e-4;
  }
  const auto md = render_table(input, TableFormat::markdown);
  EXPECT_NE(md.find("| teacher | edm | 1 | 100.0 (n=256) | 1.82e-06 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| teacher | edm | 2 | 50.00 (n=256) | -0.00025 |"), std::string::npos) << md;
  EXPECT_NE(render_table(input, TableFormat::csv).find("teacher,edm,1,100,1.816e-06,"), std::string::npos);
}

TEST(ResultTable, ThreeSeedSetsMarkdownGolden) {
  EXPECT_EQ(render_table(three_seed_set_input(), TableFormat::markdown), kMarkdownThreeSeedSets);
}

TEST(ResultTable, ThreeSeedSetsCsvGolden) {
  EXPECT_EQ(render_table(three_seed_set_input(), TableFormat::csv), kCsvThreeSeedSets);
}

TEST(ResultTable, ThreeSeedSetsLatexNamesTheStatisticsInItsCaption) {
  const auto latex = render_table(three_seed_set_input(), TableFormat::latex);
  EXPECT_NE(latex.find("\\caption{Our results (metrics combined over seed sets) beside the published numbers. Over seed "
                       "sets: min (max where higher is better) is the best seed set's value; mean $\\pm$ std are the "
                       "mean and the sample standard deviation (ddof 1). Diff is our FID min over seed sets minus the "
                       "published number.}\n"),
            std::string::npos)
      << latex;
  EXPECT_NE(latex.find("\\begin{tabular}{llrrrrrrlrrrrl}\n"), std::string::npos) << latex;
  EXPECT_NE(latex.find("Stage & Method & NFE & FID (min of 3) & FID (mean $\\pm$ std of 3) & IS (max of 3) & "
                       "IS (mean $\\pm$ std of 3) & Published & Paper & Diff &"),
            std::string::npos)
      << latex;
  EXPECT_NE(latex.find("teacher & edm & 35 & 1.97 & 2.02 $\\pm$ 0.05 & 9.90 & 9.84 $\\pm$ 0.06 & 1.97 & EDM & +0.00 &"),
            std::string::npos)
      << latex;
  EXPECT_EQ(latex.find("±"), std::string::npos);  // every ± is LaTeX's \pm
}

TEST(ResultTable, ThreeSeedSetsHtml) {
  const auto html = render_table(three_seed_set_input(), TableFormat::html);
  EXPECT_NE(html.find("<th>FID (min of 3)</th><th>FID (mean ± std of 3)</th><th>IS (max of 3)</th>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"n\">1.97</td><td class=\"n\">2.02 ± 0.05</td><td class=\"n\">9.90</td>"
                      "<td class=\"n\">9.84 ± 0.06</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<p>Over seed sets: min (max where higher is better) is the best seed set&#39;s value"),
            std::string::npos)
      << html;
}

TEST(ResultTable, TwoSeedSetsOfSmallSamplesKeepTheirSampleCount) {
  // FID 99 and 101, SWD 0.24 on both (sample_run with shift -1).
  const auto md = render_table(sample_input(), TableFormat::markdown);
  EXPECT_NE(md.find("| Stage | Method | NFE | FID (min of 2) | FID (mean ± std of 2) | SWD (min of 2) | SWD (mean ± std of 2) "
                    "| Published |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| ect | ect | 1 | 99.00 (n=256) | 100.0 ± 1.4 (n=256) | 0.2400 | 0.2400 ± 0.0000 | 3.86 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("FID with (n=N) is computed from N < 50000 samples"), std::string::npos);
}

TEST(ResultTable, RowsWithDifferentSeedSetCountsNameTheirCount) {
  TableInput input;
  input.stores.push_back(three_seed_set_store());
  StoreContents quick;
  quick.runs.push_back(test::seed_set_run("quick", "teacher", "edm", 35, {2.10}, {9.70}));
  quick.suites.push_back(test::seed_set_suite("quick"));
  input.stores.push_back(quick);
  const auto md = render_table(input, TableFormat::markdown);
  EXPECT_NE(md.find("| Suite | Stage | Method | NFE | FID (min) | FID (mean ± std) | IS (max) | IS (mean ± std) | Published |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| paper | teacher | edm | 35 | 1.97 (3 seed sets) | 2.02 ± 0.05 (3 seed sets) | 9.90 (3 seed sets) | "
                    "9.84 ± 0.06 (3 seed sets) | 1.97 | EDM | +0.00 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| quick | teacher | edm | 35 | 2.10 (1 seed set) | - | 9.70 (1 seed set) | - | 1.97 | EDM | +0.13 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("Where rows differ, a value names its number of seed sets; - has one seed set only."), std::string::npos);
  const auto csv = render_table(input, TableFormat::csv);
  EXPECT_NE(csv.find("\nquick,teacher,edm,35,2.1,2.1,2.1,2.1,,1,9.7,9.7,9.7,9.7,,1,1.97,EDM,"), std::string::npos) << csv;
}

TEST(ResultTable, SeedSetStatistics) {
  const auto fid = combine_seed_sets({2.03, 1.97, 2.06}, "min");
  EXPECT_EQ(fid.value, 1.97);
  EXPECT_EQ(fid.aggregate, "min");
  EXPECT_EQ(fid.seed_sets, 3);
  EXPECT_EQ(fid.min, 1.97);
  EXPECT_EQ(fid.max, 2.06);
  EXPECT_DOUBLE_EQ(fid.mean, 2.02);
  EXPECT_DOUBLE_EQ(fid.stddev, std::sqrt(0.0042 / 2));  // ddof 1: deviations 0.01, -0.05, 0.04
  EXPECT_EQ(best_value(fid, "lower"), 1.97);
  EXPECT_EQ(best_value(fid, "higher"), 2.06);
  EXPECT_EQ(combine_seed_sets({2.03, 1.97, 2.06}, "mean").value, fid.mean);

  const auto single = combine_seed_sets({4.5}, "min");
  EXPECT_EQ(single.mean, 4.5);
  EXPECT_TRUE(std::isnan(single.stddev));

  const auto failed = combine_seed_sets({2.03, std::nan(""), 2.06}, "min");
  for (double v : {failed.value, failed.min, failed.max, failed.mean, failed.stddev}) EXPECT_TRUE(std::isnan(v));
  EXPECT_THROW(combine_seed_sets({1.0}, "median"), InputError);
}

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
  const std::pair<TableInput, const char*> cases[] = {{sample_input(1), kMarkdown},
                                                      {three_seed_set_input(), kMarkdownThreeSeedSets}};
  for (const auto& [input, golden] : cases) {
    const auto path = dir.file("results.h5");
    write_store(path, input.stores[0]);
    TableInput first, second;
    first.stores.push_back(read_store(path));
    second.stores.push_back(read_store(path));
    for (auto format : {TableFormat::markdown, TableFormat::csv, TableFormat::latex, TableFormat::html}) {
      EXPECT_EQ(render_table(first, format), render_table(second, format));
    }
    EXPECT_EQ(render_table(first, TableFormat::markdown), golden);  // the store round trip changes nothing
  }
}

TEST(ResultTable, SuiteOverrideSelectsItsRunsAndReferences) {
  auto input = sample_input();
  input.stores[0].runs.push_back(test::sample_run("other", "ect", "ect"));
  auto suite = test::sample_suite("smoke");
  suite.references = {{"edm", "EDM (a label)", 2, "fid", 2.0, 50000, "somewhere", ""}};
  input.suite = &suite;
  const auto md = render_table(input, TableFormat::markdown);
  EXPECT_EQ(md.find("other"), std::string::npos);
  EXPECT_NE(md.find("| teacher | edm | 2 | 50.00 (n=256) | 51.00 ± 1.41 (n=256) | 0.1250 | 0.1250 ± 0.0000 | 2.00 | "
                    "EDM (a label) | +48.00 |"),
            std::string::npos)
      << md;
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

// Issue 15: every EMA profile evaluated gets its own row, named after the profile; the default
// weights keep the stage's name (so stores and baselines written before compare as they did), and a
// published row bound to a stage wins over its method's unbound rows.
TEST(ResultTable, EveryEmaProfileGetsItsRowAndBoundRowsWin) {
  StoreContents store;
  auto run = test::sample_run("smoke", "ect", "ect", 0, 1);
  for (auto row : std::vector<EvaluationRow>(run.evaluations)) {
    row.ema = "0.999";
    row.value += 10;
    run.evaluations.push_back(row);
  }
  store.runs.push_back(run);
  auto suite = test::sample_suite("smoke");
  suite.references.push_back({"ect", "ECT (bs 128, 400k it)", 1, "fid", 3.60, 50000, "Geng et al. 2024", "ect"});
  store.suites.push_back(suite);
  TableInput input;
  input.stores.push_back(store);
  input.store_names.push_back("results.h5");

  const auto results = stage_results(input.stores);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].label(), "ect");
  EXPECT_EQ(results[1].label(), "ect [ema 0.999]");
  EXPECT_DOUBLE_EQ(results[0].metrics.at({1, "fid"}).value, 100.0);
  EXPECT_DOUBLE_EQ(results[1].metrics.at({1, "fid"}).value, 110.0);

  const auto csv = render_table(input, TableFormat::csv);
  EXPECT_NE(csv.find("\nect,ect,1,100,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nect [ema 0.999],ect,1,110,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("3.6,\"ECT (bs 128, 400k it)\""), std::string::npos) << csv;  // bound to the stage at NFE 1
  EXPECT_NE(csv.find("2.15,\"ECT (bs 128, 200k it)\""), std::string::npos) << csv;  // the method's row at NFE 2
}

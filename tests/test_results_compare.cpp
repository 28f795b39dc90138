#include <gtest/gtest.h>

#include <cmath>

#include "results/compare.h"
#include "results/store.h"
#include "test_results_fixture.h"
#include "test_util.h"

using namespace cmbench;
using namespace cmbench::results;

namespace {

StoreContents store_with(double shift, bool with_cd = true) {
  StoreContents store;
  store.runs.push_back(test::sample_run("smoke", "ect", "ect", shift));
  if (with_cd) store.runs.push_back(test::sample_run("smoke", "cd", "cd", shift));
  store.suites.push_back(test::sample_suite("smoke"));
  return store;
}

const ComparisonRow& row(const Comparison& c, const std::string& stage, int64_t nfe, const std::string& metric) {
  for (const auto& r : c.rows) {
    if (r.stage == stage && r.nfe == nfe && r.metric == metric) return r;
  }
  throw std::runtime_error("no row " + stage + "/" + metric);
}

}  // namespace

TEST(ResultCompare, IdenticalStoresPass) {
  const auto c = compare_stores(store_with(0), store_with(0), {});
  EXPECT_TRUE(c.passed());
  EXPECT_EQ(c.rows.size(), 8u);  // 2 stages x 2 NFE x 2 metrics
  for (const auto& r : c.rows) EXPECT_EQ(r.status, "same");
  // FID aggregates with the suite's "min" over seed sets: 100/nfe (seed set 0) beats 100/nfe + 2.
  EXPECT_EQ(row(c, "ect", 1, "fid").baseline, 100.0);
  // SWD with "mean": (0.125 + 0.125) / 2 at NFE 2.
  EXPECT_DOUBLE_EQ(row(c, "ect", 2, "swd").baseline, 0.125);
}

TEST(ResultCompare, WorseBeyondToleranceRegresses) {
  // FID rtol 0.05: +3 on 100 is within, +6 is worse. SWD rtol 0.1, atol 0.001.
  const auto within = compare_stores(store_with(0), store_with(3), {});
  EXPECT_EQ(row(within, "ect", 1, "fid").status, "within");
  EXPECT_EQ(row(within, "ect", 2, "fid").status, "worse");  // +3 on 50 is 6 %
  EXPECT_FALSE(within.passed());
  EXPECT_EQ(within.regressions, 2 + 4);  // fid at NFE 2 for two stages; swd (+0.03 on 0.25/0.125) everywhere
  const auto better = compare_stores(store_with(3), store_with(0), {});
  EXPECT_TRUE(better.passed());
  EXPECT_EQ(row(better, "cd", 2, "fid").status, "better");
}

TEST(ResultCompare, RtolAndMetricOverride) {
  CompareOptions loose;
  loose.rtol = 0.5;
  EXPECT_TRUE(compare_stores(store_with(0), store_with(3), loose).passed());
  CompareOptions strict;
  strict.rtol = 0.0;
  strict.metric = "fid";
  const auto c = compare_stores(store_with(0), store_with(0.5), strict);
  EXPECT_EQ(c.rows.size(), 4u);
  EXPECT_EQ(c.regressions, 4);
}

TEST(ResultCompare, SuiteOverridesStoredPolicy) {
  auto suite = test::sample_suite("smoke");
  suite.metrics = {{"fid", "higher", 0.0, 0.0, "min"}, {"swd", "higher", 0.0, 0.0, "mean"}};
  CompareOptions options;
  options.suite = &suite;
  const auto c = compare_stores(store_with(1), store_with(0), options);  // lower values now count as worse
  EXPECT_EQ(c.regressions, 8);
}

TEST(ResultCompare, MissingBaselineRowFailsAndNewRowDoesNot) {
  const auto missing = compare_stores(store_with(0, true), store_with(0, false), {});
  EXPECT_EQ(missing.missing, 4);
  EXPECT_FALSE(missing.passed());
  EXPECT_EQ(row(missing, "cd", 1, "fid").status, "missing");
  const auto added = compare_stores(store_with(0, false), store_with(0, true), {});
  EXPECT_TRUE(added.passed());
  EXPECT_EQ(row(added, "cd", 1, "fid").status, "new");
}

TEST(ResultCompare, NanIsARegression) {
  auto current = store_with(0);
  current.runs[0].evaluations[0].value = std::nan("");
  current.runs[0].evaluations[2].value = std::nan("");  // both seed sets of ect fid at NFE 1
  const auto c = compare_stores(store_with(0), current, {});
  EXPECT_EQ(row(c, "ect", 1, "fid").status, "worse");
  EXPECT_FALSE(c.passed());
  const auto j = comparison_json(c, "a.h5", "b.h5");
  EXPECT_EQ(j["passed"], false);
  EXPECT_EQ(j["regressions"], 1);
}

TEST(ResultCompare, CliExitCodes) {
  test::TempDir dir;
  const auto base = dir.file("base.h5"), same = dir.file("same.h5"), worse = dir.file("worse.h5"),
             partial = dir.file("partial.h5");
  write_store(base, store_with(0));
  write_store(same, store_with(0));
  write_store(worse, store_with(3));
  write_store(partial, store_with(0, false));

  auto r = test::run_cli({"compare", base, same});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("passed"), std::string::npos);
  r = test::run_cli({"compare", base, worse, "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["passed"], false);
  EXPECT_EQ(j["regressions"], 6);
  EXPECT_EQ(test::run_cli({"compare", base, worse, "--rtol", "0.5"}).exit_code, 0);
  EXPECT_EQ(test::run_cli({"compare", base, worse, "--metric", "fid", "--rtol", "0.07"}).exit_code, 0);
  EXPECT_EQ(test::run_cli({"compare", base, partial}).exit_code, 1);
  r = test::run_cli({"compare", base, dir.file("absent.h5")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("absent.h5"), std::string::npos);
}

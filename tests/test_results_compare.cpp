#include <gtest/gtest.h>

#include <cmath>
#include <vector>

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

// ECT at NFE 1 over EDM's three seed sets: FID 3.60, 3.70, 3.65 (policy "min"), IS 9.10, 9.20, 9.30
// (higher is better, "mean"); `fid` replaces the FID values.
StoreContents seed_set_store(std::vector<double> fid = {3.60, 3.70, 3.65}) {
  StoreContents store;
  store.runs.push_back(test::seed_set_run("paper", "ect", "ect", 1, fid, {9.10, 9.20, 9.30}));
  store.suites.push_back(test::seed_set_suite("paper"));
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

TEST(ResultCompare, RowsNameTheirAggregateOverSeedSets) {
  const auto c = compare_stores(seed_set_store(), seed_set_store(), {});
  EXPECT_TRUE(c.passed());
  const auto fid = row(c, "ect", 1, "fid");
  EXPECT_EQ(fid.baseline, 3.60);  // the min, as before
  EXPECT_EQ(fid.aggregate().aggregate, "min");
  EXPECT_EQ(fid.aggregate().seed_sets, 3);
  EXPECT_DOUBLE_EQ(row(c, "ect", 1, "is_mean").baseline, 9.2);
  EXPECT_EQ(comparison_text(c),
            "suite                    stage       nfe metric         baseline        current     change  over seed sets  status\n"
            "paper                    ect           1 fid                 3.6            3.6    +0.000%  min of 3        same\n"
            "paper                    ect           1 is_mean             9.2            9.2    +0.000%  mean of 3       same\n"
            "passed: 2 rows, no regression\n");
  const auto j = comparison_json(c, "a.h5", "b.h5");
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["metric"], "fid");
  EXPECT_EQ(j["rows"][0]["aggregate"], "min");
  EXPECT_EQ(j["rows"][0]["seed_sets"], 3);
  EXPECT_EQ(j["rows"][0]["baseline_aggregate"], "min");
  EXPECT_EQ(j["rows"][0]["baseline_seed_sets"], 3);
  EXPECT_EQ(j["rows"][1]["aggregate"], "mean");
  EXPECT_EQ(j["rows"][1]["seed_sets"], 3);
}

TEST(ResultCompare, OneSeedSetSaysSo) {
  const auto c = compare_stores(store_with(0), store_with(0), {});
  EXPECT_EQ(row(c, "ect", 1, "swd").aggregate().seed_sets, 2);
  StoreContents single;
  single.runs.push_back(test::sample_run("smoke", "ect", "ect", 0, 1));
  single.suites.push_back(test::sample_suite("smoke"));
  const auto one = compare_stores(single, single, {});
  const auto text = comparison_text(one);
  EXPECT_NE(text.find("smoke                    ect           1 fid                 100            100    +0.000%  min of 1        same\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" swd                0.25           0.25    +0.000%  mean of 1       same\n"), std::string::npos) << text;
  EXPECT_EQ(comparison_json(one, "a.h5", "b.h5")["rows"][0]["seed_sets"], 1);
}

TEST(ResultCompare, DifferentSeedSetCountsAreNamedAndComparedAsBefore) {
  // The current store has only the first seed set; its FID (3.60) equals the baseline's min.
  const auto c = compare_stores(seed_set_store(), seed_set_store({3.60}), {});
  const auto fid = row(c, "ect", 1, "fid");
  EXPECT_EQ(fid.status, "same");
  EXPECT_EQ(fid.aggregate().seed_sets, 1);
  EXPECT_EQ(fid.baseline_aggregate.seed_sets, 3);
  EXPECT_NE(comparison_text(c).find("  min of 1 (baseline min of 3)  same\n"), std::string::npos) << comparison_text(c);
  const auto j = comparison_json(c, "a.h5", "b.h5");
  EXPECT_EQ(j["rows"][0]["seed_sets"], 1);
  EXPECT_EQ(j["rows"][0]["baseline_seed_sets"], 3);
}

TEST(ResultCompare, MissingAndNewRowsNameTheSideTheyCameFrom) {
  auto current = seed_set_store();
  current.runs[0].stage = "ect-long";  // the baseline's ect is missing, ect-long is new
  const auto c = compare_stores(seed_set_store(), current, {});
  const auto j = comparison_json(c, "a.h5", "b.h5");
  for (const auto& r : j["rows"]) {
    if (r["metric"] != "fid") continue;
    EXPECT_EQ(r["aggregate"], "min");
    EXPECT_EQ(r["seed_sets"], 3);
    if (r["status"] == "missing") {
      EXPECT_EQ(r["baseline_seed_sets"], 3);
      EXPECT_TRUE(r["current"].is_null());
    } else {
      EXPECT_EQ(r["status"], "new");
      EXPECT_TRUE(r["baseline_aggregate"].is_null());
      EXPECT_TRUE(r["baseline_seed_sets"].is_null());
    }
  }
  EXPECT_EQ(c.missing, 2);
}

TEST(ResultCompare, CliNamesTheAggregate) {
  test::TempDir dir;
  const auto base = dir.file("base.h5"), current = dir.file("current.h5");
  write_store(base, seed_set_store());
  write_store(current, seed_set_store({3.60, 3.70, 3.80}));  // the min is unchanged
  auto r = test::run_cli({"compare", base, current});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("over seed sets"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("min of 3        same"), std::string::npos) << r.out;
  r = test::run_cli({"compare", base, current, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rows"][0]["aggregate"], "min");
  EXPECT_EQ(j["rows"][0]["seed_sets"], 3);
}

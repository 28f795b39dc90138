// Findings checked on a store's rows (results/findings.h), stored with the suite record, and the
// `cmbench findings` command.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <H5Cpp.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "results/column_table.h"
#include "results/findings.h"
#include "results/store.h"
#include "test_results_fixture.h"
#include "test_util.h"

using namespace cmbench;
using namespace cmbench::results;

namespace {

// Per metric and NFE, one value per evaluated step (steps 10, 20, 30, ...).
using StepValues = std::map<std::pair<std::string, int64_t>, std::vector<double>>;

// A run of `stage` at batch 8 (80 training images per 10 steps) with `values`' rows on one seed set
// under the weights `ema`.
RunRecord run_with(const std::string& stage, const StepValues& values, const std::string& ema = "") {
  auto run = test::sample_run("study", stage, stage);
  run.config_json = R"({"train":{"batch":8,"steps":40}})";
  run.evaluations.clear();
  for (const auto& [key, per_step] : values) {
    for (size_t i = 0; i < per_step.size(); ++i) {
      auto row = test::evaluation_row(key.second, key.first, per_step[i], 64, "probes", "gmm:m.npz", "");
      row.step = 10 * static_cast<int64_t>(i + 1);
      row.ema = ema;
      run.evaluations.push_back(row);
    }
  }
  return run;
}

SuiteRecord study_suite(std::vector<FindingSpec> findings) {
  SuiteRecord suite;
  suite.name = "study";
  suite.dataset = "gmm:m.npz";
  suite.metrics = {{"tvar_t0", "lower", 0, 0, "mean"},
                   {"cerr", "lower", 0, 0, "min"},
                   {"gt_loglik", "higher", 0, 0, "mean"},
                   {"gt_fd", "lower", 0, 0, "mean"}};
  suite.findings = std::move(findings);
  return suite;
}

FindingSpec spec(const std::string& kind, std::vector<std::string> stages, std::vector<std::string> metrics,
                 std::vector<int64_t> nfe, double rtol = 0) {
  FindingSpec f;
  f.id = kind + "-check";
  f.claim = "the claim of " + kind;
  f.kind = kind;
  f.stages = std::move(stages);
  f.metrics = std::move(metrics);
  f.nfe = std::move(nfe);
  f.rtol = rtol;
  return f;
}

FindingResult evaluate(const std::vector<RunRecord>& runs, const FindingSpec& finding) {
  StoreContents store;
  store.runs = runs;
  const auto results = evaluate_findings(store, study_suite({finding}));
  EXPECT_EQ(results.size(), 1u);
  return results.at(0);
}

}  // namespace

TEST(Findings, BelowComparesFinalValuesInTheMetricsDirection) {
  const auto below = spec("below", {"sct", "ect"}, {"tvar_t0", "gt_loglik"}, {0});
  // The last step's values count (steps 10 and 20 here); gt_loglik is higher-is-better.
  const auto sct = run_with("sct", {{{"tvar_t0", 0}, {9.0, 0.5}}, {{"gt_loglik", 0}, {-9.0, -1.0}}});
  const auto ect = run_with("ect", {{{"tvar_t0", 0}, {0.1, 1.0}}, {{"gt_loglik", 0}, {0.0, -2.0}}});
  auto r = evaluate({sct, ect}, below);
  EXPECT_TRUE(r.evaluable);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.status(), "pass");
  EXPECT_EQ(r.verdict, "tvar_t0: sct 0.5 < ect 1; gt_loglik: sct -1 > ect -2");
  EXPECT_EQ(r.numbers["tvar_t0"]["sct"], 0.5);
  EXPECT_EQ(r.numbers["gt_loglik"]["ect"], -2.0);
  EXPECT_EQ(finding_line(r), "PASS below-check: the claim of below | " + r.verdict);

  r = evaluate({ect, sct}, spec("below", {"ect", "sct"}, {"tvar_t0"}, {0}));  // reversed: fails
  EXPECT_TRUE(r.evaluable);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.status(), "fail");
  EXPECT_EQ(r.verdict, "tvar_t0: ect 1 > sct 0.5");
  // Equal values are not below (strict) unless rtol allows.
  const auto twin = run_with("ect", {{{"tvar_t0", 0}, {0.1, 0.5}}});
  EXPECT_FALSE(evaluate({sct, twin}, spec("below", {"sct", "ect"}, {"tvar_t0"}, {0})).passed);
}

// rtol is slack of rtol * |the value compared with|: b * (1 + rtol) for positive b, and the same
// margin (not a sign flip) for negative values of a higher-is-better metric.
TEST(Findings, RelativeToleranceIsSlackOnTheComparedValue) {
  const auto ect = run_with("ect", {{{"tvar_t0", 0}, {1.0}}, {{"gt_loglik", 0}, {-2.0}}});
  const auto sct = [](double tvar, double loglik) {
    return run_with("sct", {{{"tvar_t0", 0}, {tvar}}, {{"gt_loglik", 0}, {loglik}}});
  };
  EXPECT_TRUE(evaluate({sct(1.04, -1), ect}, spec("below", {"sct", "ect"}, {"tvar_t0"}, {0}, 0.05)).passed);
  EXPECT_FALSE(evaluate({sct(1.06, -1), ect}, spec("below", {"sct", "ect"}, {"tvar_t0"}, {0}, 0.05)).passed);
  EXPECT_TRUE(evaluate({sct(0, -2.1), ect}, spec("below", {"sct", "ect"}, {"gt_loglik"}, {0}, 0.1)).passed);
  EXPECT_FALSE(evaluate({sct(0, -2.3), ect}, spec("below", {"sct", "ect"}, {"gt_loglik"}, {0}, 0.1)).passed);
}

// Seed sets combine with the policy's aggregate (cerr: min; tvar_t0: mean), as in the tables.
TEST(Findings, SeedSetsCombineWithThePolicysAggregate) {
  auto sct = run_with("sct", {{{"tvar_t0", 0}, {1.0}}, {{"cerr", 1}, {0.4}}});
  auto second = sct.evaluations;
  for (auto& row : second) {
    row.seed_set = "64-127";
    row.value = row.metric == "cerr" ? 0.1 : 3.0;
  }
  sct.evaluations.insert(sct.evaluations.end(), second.begin(), second.end());
  const auto ect = run_with("ect", {{{"tvar_t0", 0}, {2.5}}, {{"cerr", 1}, {0.2}}});
  auto r = evaluate({sct, ect}, spec("below", {"sct", "ect"}, {"tvar_t0"}, {0}));
  EXPECT_EQ(r.numbers["tvar_t0"]["sct"], 2.0);  // mean of 1 and 3
  EXPECT_TRUE(r.passed);
  r = evaluate({sct, ect}, spec("below", {"sct", "ect"}, {"cerr"}, {1}));
  EXPECT_EQ(r.numbers["cerr"]["sct"], 0.1);  // min of 0.4 and 0.1
  EXPECT_TRUE(r.passed);
}

TEST(Findings, DecreasingIsStrictAlongTheStages) {
  const auto run = [](const std::string& stage, double v) { return run_with(stage, {{{"tvar_t0", 0}, {v}}}); };
  const auto falling = spec("decreasing", {"batch", "pool256", "pool1024"}, {"tvar_t0"}, {0});
  auto r = evaluate({run("batch", 3), run("pool256", 2), run("pool1024", 1)}, falling);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.verdict, "tvar_t0: batch 3 > pool256 2 > pool1024 1");
  r = evaluate({run("batch", 3), run("pool256", 2), run("pool1024", 2)}, falling);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.verdict, "tvar_t0: batch 3 > pool256 2 = pool1024 2");
}

// Images until the metric first reaches the threshold: 8 images per step, rows every 10 steps.
TEST(Findings, ReachesFirstComparesImagesSeenToTheThreshold) {
  const auto run = [](const std::string& stage, std::vector<double> cerr) {
    return run_with(stage, {{{"cerr", 1}, std::move(cerr)}});
  };
  auto reach = spec("reaches_first", {"ect", "sct"}, {"cerr"}, {1});
  reach.others = {"ct", "ict"};
  reach.threshold = 0.5;
  const std::vector<RunRecord> runs = {run("ect", {0.9, 0.5, 0.4}), run("sct", {0.3, 0.2, 0.1}),
                                       run("ct", {0.9, 0.8, 0.45}), run("ict", {0.9, 0.8, 0.7})};
  auto r = evaluate(runs, reach);
  EXPECT_TRUE(r.evaluable);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.numbers["images_to_threshold"]["ect"], 160);
  EXPECT_EQ(r.numbers["images_to_threshold"]["sct"], 80);
  EXPECT_EQ(r.numbers["images_to_threshold"]["ct"], 240);
  EXPECT_TRUE(r.numbers["images_to_threshold"]["ict"].is_null());
  EXPECT_EQ(r.verdict, "images until cerr <= 0.5: ect 160, sct 80 vs ct 240, ict never");
  // A scratch stage as fast as a tuned one: not before it.
  auto tied = runs;
  tied[2] = run("ct", {0.9, 0.5, 0.1});
  EXPECT_FALSE(evaluate(tied, reach).passed);
  // A tuned stage that never reaches it fails even when the others never do.
  tied[0] = run("ect", {0.9, 0.9, 0.9});
  tied[2] = run("ct", {0.9, 0.9, 0.9});
  EXPECT_FALSE(evaluate(tied, reach).passed);
  // Without train.batch, images per step come from images_seen over the last logged step (1280 / 40).
  auto no_batch = runs;
  for (auto& r2 : no_batch) r2.config_json = "{}";
  EXPECT_EQ(images_per_step(no_batch[0]), 32);
  EXPECT_EQ(evaluate(no_batch, reach).numbers["images_to_threshold"]["sct"], 320);
}

TEST(Findings, NfeImprovesPerStageAndMetric) {
  const auto improves = spec("nfe_improves", {"ect", "sct"}, {"gt_fd", "gt_loglik"}, {1, 2});
  const auto run = [](const std::string& stage, double fd1, double fd2, double ll1, double ll2) {
    return run_with(stage, {{{"gt_fd", 1}, {fd1}}, {{"gt_fd", 2}, {fd2}}, {{"gt_loglik", 1}, {ll1}}, {{"gt_loglik", 2}, {ll2}}});
  };
  auto r = evaluate({run("ect", 4, 3, -2, -1), run("sct", 5, 2, -3, -1.5)}, improves);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.verdict, "gt_fd at NFE 1 -> 2: ect 4 -> 3, sct 5 -> 2; gt_loglik at NFE 1 -> 2: ect -2 -> -1, sct -3 -> -1.5");
  EXPECT_EQ(r.numbers["gt_fd"]["sct"]["2"], 2.0);
  EXPECT_FALSE(evaluate({run("ect", 4, 3, -2, -1), run("sct", 5, 2, -1, -1.5)}, improves).passed);  // loglik fell
}

TEST(Findings, CurveNotWorseAtEveryStepBothEvaluated) {
  const auto not_worse = spec("curve_not_worse", {"sct", "ect"}, {"cerr"}, {1}, 0.1);
  const auto ect = run_with("ect", {{{"cerr", 1}, {1.0, 0.8, 0.6, 0.4}}});
  auto r = evaluate({run_with("sct", {{{"cerr", 1}, {1.0, 0.85, 0.5}}}), ect}, not_worse);  // 0.85 <= 0.88
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.numbers["cerr"]["steps"], 3);
  EXPECT_EQ(r.numbers["cerr"]["worst_step"], 20);
  EXPECT_EQ(r.verdict, "cerr: sct not worse than ect at 3 of 3 steps (least margin at step 20: 0.85 > 0.8)");
  r = evaluate({run_with("sct", {{{"cerr", 1}, {1.0, 0.9, 0.5, 0.3}}}), ect}, not_worse);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.numbers["cerr"]["steps_not_worse"], 3);
}

// Missing rows make a finding "not evaluable" saying what is missing, never a pass.
TEST(Findings, MissingRowsAreNotEvaluable) {
  const auto sct = run_with("sct", {{{"tvar_t0", 0}, {0.5}}});
  auto r = evaluate({sct}, spec("below", {"sct", "ect"}, {"tvar_t0"}, {0}));
  EXPECT_FALSE(r.evaluable);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.status(), "n/a");
  EXPECT_EQ(r.missing, "stage 'ect' has no run");
  EXPECT_EQ(finding_line(r), "N/A  below-check: the claim of below | not evaluable: stage 'ect' has no run");
  r = evaluate({sct, run_with("ect", {{{"tvar_t0", 1}, {1.0}}})}, spec("below", {"sct", "ect"}, {"tvar_t0"}, {0}));
  EXPECT_EQ(r.missing, "ect: no tvar_t0 row at NFE 0 at its last evaluated step 10");
  // A row of the metric at an earlier step only: the last evaluated step lacks it.
  auto late = run_with("ect", {{{"tvar_t0", 0}, {1.0}}, {{"cerr", 1}, {1.0, 1.0}}});
  r = evaluate({sct, late}, spec("below", {"sct", "ect"}, {"tvar_t0"}, {0}));
  EXPECT_EQ(r.missing, "ect: no tvar_t0 row at NFE 0 at its last evaluated step 20");
  // Another EMA profile's rows are not the default weights' rows.
  auto ema = spec("below", {"sct", "ect"}, {"tvar_t0"}, {0});
  ema.ema = "ema.b";
  r = evaluate({run_with("sct", {{{"tvar_t0", 0}, {0.5}}}, "ema.b"), run_with("ect", {{{"tvar_t0", 0}, {1.0}}}, "ema.b")}, ema);
  EXPECT_TRUE(r.passed);
  r = evaluate({sct, run_with("ect", {{{"tvar_t0", 0}, {1.0}}})}, ema);
  EXPECT_EQ(r.missing, "sct: no tvar_t0 row at NFE 0 (ema ema.b) at its last evaluated step 10; ect: no tvar_t0 row at "
                       "NFE 0 (ema ema.b) at its last evaluated step 10");
  auto curve = spec("curve_not_worse", {"sct", "ect"}, {"cerr"}, {1});
  r = evaluate({run_with("sct", {{{"cerr", 1}, {1.0}}}), run_with("ect", {{{"cerr", 2}, {1.0}}})}, curve);
  EXPECT_EQ(r.missing, "ect: no cerr rows at NFE 1");
  // A spec the evaluator cannot read (a store written by hand) is not evaluable either.
  r = evaluate({sct}, spec("above", {"sct"}, {"tvar_t0"}, {0}));
  EXPECT_FALSE(r.evaluable);
  EXPECT_EQ(r.missing, "unknown finding kind 'above'");
  r = evaluate({sct}, spec("below", {"sct"}, {"tvar_t0"}, {0}));
  EXPECT_EQ(r.missing, "a 'below' finding needs exactly 2 stages");
}

TEST(Findings, TheLatestRunOfAStageCountsAndSuiteOverridesWin) {
  StoreContents first, second;
  first.runs = {run_with("sct", {{{"tvar_t0", 0}, {5.0}}}), run_with("ect", {{{"tvar_t0", 0}, {1.0}}})};
  first.suites = {study_suite({spec("below", {"sct", "ect"}, {"tvar_t0"}, {0})})};
  second.runs = {run_with("sct", {{{"tvar_t0", 0}, {0.5}}})};
  auto results = evaluate_store_findings({first});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].passed);
  results = evaluate_store_findings({first, second});  // the second store's sct run is later
  EXPECT_TRUE(results[0].passed);
  EXPECT_EQ(results[0].suite, "study");
  const auto other = study_suite({spec("below", {"ect", "sct"}, {"tvar_t0"}, {0}), spec("decreasing", {"ect", "sct"}, {"tvar_t0"}, {0})});
  results = evaluate_store_findings({first, second}, &other);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[0].passed);
  EXPECT_TRUE(results[1].passed);
  // A later store's suite record replaces an earlier one of the same name.
  second.suites = {study_suite({})};
  EXPECT_TRUE(evaluate_store_findings({first, second}).empty());
}

TEST(FindingsStore, FindingsRoundTripThroughTheStore) {
  test::TempDir dir;
  const auto path = dir.file("s.h5");
  auto reach = spec("reaches_first", {"ect", "sct"}, {"cerr"}, {1}, 0.25);
  reach.others = {"ct"};
  reach.threshold = 0.125;
  reach.ema = "ema";
  reach.why = "tuning from a teacher \"starts\" close";
  const auto suite = study_suite({spec("nfe_improves", {"ect"}, {"gt_fd"}, {1, 2}), reach});
  put_suite(path, suite);
  const auto read = read_store(path).suites.at(0).findings;
  ASSERT_EQ(read.size(), 2u);
  for (size_t i = 0; i < read.size(); ++i) {
    const auto &a = suite.findings[i], &b = read[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.claim, b.claim);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.stages, b.stages);
    EXPECT_EQ(a.others, b.others);
    EXPECT_EQ(a.metrics, b.metrics);
    EXPECT_EQ(a.nfe, b.nfe);
    EXPECT_EQ(a.threshold, b.threshold);
    EXPECT_EQ(a.rtol, b.rtol);
    EXPECT_EQ(a.ema, b.ema);
    EXPECT_EQ(a.why, b.why);
  }
}

// A store written before findings were stored (no findings dataset) reads with none; a findings
// table whose list column is not a JSON list is an InputError naming the store.
TEST(FindingsStore, OlderStoresReadAndBrokenListsAreNamed) {
  test::TempDir dir;
  const auto path = dir.file("old.h5");
  put_suite(path, study_suite({spec("below", {"sct", "ect"}, {"tvar_t0"}, {0})}));
  {
    H5::H5File file(path, H5F_ACC_RDWR);
    file.openGroup("suites/study").unlink("findings");
  }
  EXPECT_TRUE(read_store(path).suites.at(0).findings.empty());
  EXPECT_EQ(read_store(path).suites.at(0).metrics.size(), 4u);

  // The same table written by hand with a stages column that is not JSON.
  const auto broken = dir.file("broken.h5");
  put_suite(broken, study_suite({}));
  {
    H5::H5File file(broken, H5F_ACC_RDWR);
    H5::Group suite = file.openGroup("suites/study");
    suite.unlink("findings");
    ColumnTable table;
    const std::vector<std::pair<const char*, std::string>> texts = {
        {"id", "x"}, {"claim", "c"}, {"kind", "below"}, {"stages", "sct,ect"}, {"others", "[]"},
        {"metrics", "[\"cerr\"]"}, {"nfe", "[1]"}, {"ema", ""}, {"why", ""}};
    for (const auto& [name, value] : texts) table.add_texts(name, {value}, "");
    table.add_reals("threshold", {0.0}, "1", "");
    table.add_reals("rtol", {0.0}, "1", "");
    table.write(suite, "findings", "findings");
  }
  const auto message = test::input_error_message([&] { read_store(broken); });
  EXPECT_NE(message.find(broken), std::string::npos) << message;
  EXPECT_NE(message.find("findings column 'stages' holds 'sct,ect'"), std::string::npos) << message;
}

// Python users read the findings with h5py: a structured array whose list columns are JSON.
TEST(FindingsStore, H5pyReadsTheFindings) {
  const auto python = test::python_importing("h5py");
  if (python.empty()) GTEST_SKIP() << "no python3 with h5py (Debian: apt install python3-h5py)";
  test::TempDir dir;
  const auto path = dir.file("s.h5");
  put_suite(path, study_suite({spec("below", {"sct", "ect"}, {"tvar_t0"}, {0}, 0.5)}));
  test::write_text(dir.file("read.py"), R"(import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
row = f["suites/study/findings"][0]
print(row["id"].decode(), json.loads(row["stages"]), json.loads(row["nfe"]), row["rtol"])
)");
  const auto r = test::run_shell(test::shell_quoted(python) + " " + test::shell_quoted(dir.file("read.py")) + " " +
                                 test::shell_quoted(path));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "below-check ['sct', 'ect'] [0] 0.5\n");
}

namespace {

// A store with a passing and a failing finding, and the suite file of the same suite that states
// a third finding on a stage the store lacks.
struct FindingsFixture {
  test::TempDir dir;
  std::string store = dir.file("results.h5");
  std::string suite_file = dir.file("study.toml");
  FindingsFixture() {
    append_run(store, run_with("sct", {{{"swd", 1}, {0.5}}}));
    append_run(store, run_with("ect", {{{"swd", 1}, {1.0}}}));
    auto swd_suite = study_suite({spec("below", {"sct", "ect"}, {"swd"}, {1}), spec("below", {"ect", "sct"}, {"swd"}, {1})});
    swd_suite.findings[1].id = "reversed";
    swd_suite.metrics.push_back({"swd", "lower", 0, 0, "mean"});
    put_suite(store, swd_suite);
    test::write_text(suite_file, test::parse_suite_head("name = \"study\"\ndescription = \"findings from a file\"\n",
                                                        "nfe = [1]\nnum_samples = 16\nseed_sets = [\"0-15\"]\n") +
                                     R"(
[metrics.swd]

[stages.ect]
method = "ect"
steps = 2

[stages.sct]
method = "sct"
steps = 2

[stages.ct]
method = "ct"
steps = 2

[[finding]]
id = "from-file"
claim = "CT is below SCT"
kind = "below"
stages = ["ct", "sct"]
metrics = ["swd"]
nfe = [1]
)");
  }
};

}  // namespace

TEST(FindingsCli, PrintsOneLinePerFindingAndStrictFailsOnAnyFailure) {
  FindingsFixture f;
  auto r = test::run_cli({"findings", f.store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "PASS below-check: the claim of below | swd: sct 0.5 < ect 1\n"
            "FAIL reversed: the claim of below | swd: ect 1 > sct 0.5\n");
  r = test::run_cli({"findings", f.store, "--strict"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("1 finding(s) failed and 0 not evaluable (--strict)"), std::string::npos) << r.err;

  r = test::run_cli({"findings", f.store, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["passed"], 1);
  EXPECT_EQ(json["failed"], 1);
  EXPECT_EQ(json["not_evaluable"], 0);
  ASSERT_EQ(json["findings"].size(), 2u);
  EXPECT_EQ(json["findings"][0]["status"], "pass");
  EXPECT_EQ(json["findings"][0]["numbers"]["swd"]["ect"], 1.0);
  EXPECT_EQ(json["findings"][1]["id"], "reversed");
}

TEST(FindingsCli, TheSuiteFileWinsAndMissingRowsAreNotAPass) {
  FindingsFixture f;
  auto r = test::run_cli({"findings", f.store, "--suite", f.suite_file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "N/A  from-file: CT is below SCT | not evaluable: stage 'ct' has no run\n");
  r = test::run_cli({"findings", f.store, "--suite", f.suite_file, "--strict"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("0 finding(s) failed and 1 not evaluable"), std::string::npos) << r.err;
}

TEST(FindingsCli, BadInputIsOneLineAndExitTwo) {
  test::TempDir dir;
  auto r = test::run_cli({"findings", dir.file("absent.h5")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir.file("absent.h5") + ": no such result store"), std::string::npos) << r.err;
  const auto store = dir.file("plain.h5");
  append_run(store, run_with("sct", {{{"swd", 1}, {0.5}}}));
  r = test::run_cli({"findings", store});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(store + ": no findings to check"), std::string::npos) << r.err;
}

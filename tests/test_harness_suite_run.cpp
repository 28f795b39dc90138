// End to end: `cmbench run` on a tiny synthetic suite, and a run killed (SIGKILL) in the middle of
// a stage then finished with --resume gives the same weights, samples and metric values; FID and
// IS in a suite (synthetic Inception weights) equal the standalone commands on the kept samples.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/hdf5.h"
#include "core/npy.h"
#include "results/store.h"
#include "test_util.h"

using namespace cmbench;
namespace fs = std::filesystem;

namespace {

std::string tiny_suite(const std::string& reference) {
  return test::tiny_suite_head("tiny", 3) + R"(

[stages.teacher]
method = "edm"
steps = 4
options = { preset = "cifar10" }
nfe = [3]

[stages.ect]
method = "ect"
init = "teacher"
steps = 40
options = { preset = "cifar10" }
)" + test::tiny_swd_evaluation(16, reference);
}

// One short ECT stage evaluated on 10 samples at NFE 1; `tail` adds the reference and the metrics.
std::string ten_sample_suite(const std::string& name, int seed, const std::string& tail) {
  return test::tiny_suite_head(name, seed) + R"(
[stages.ect]
method = "ect"
steps = 2
options = { preset = "cifar10" }

[evaluation]
nfe = [1]
num_samples = 10
seed_sets = ["0-9"]
batch = 10
)" + tail;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  auto fa = h5::open_read(a), fb = h5::open_read(b);
  for (const char* group : {"model", "ema"}) {
    if (!h5::has_child(fa, group)) continue;
    auto ga = fa.openGroup(group), gb = fb.openGroup(group);
    const auto names = h5::child_names(ga);
    ASSERT_EQ(names, h5::child_names(gb));
    for (const auto& name : names) {
      EXPECT_TRUE(torch::equal(h5::read_tensor(ga, name), h5::read_tensor(gb, name))) << group << "/" << name;
    }
  }
}

}  // namespace

TEST(SuiteRun, KilledMidStageAndResumedEqualsUninterrupted) {
  test::TempDir dir;
  const auto suite = dir.file("tiny.toml");
  test::write_text(suite, tiny_suite(test::write_reference_images(dir)));
  const std::vector<std::string> env = {"CMBENCH_THREADS=1"};

  const auto whole = dir.file("whole");
  auto r = test::run_cli({"run", suite, "--out", whole}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| ect | ect | 1 |"), std::string::npos) << r.out;
  EXPECT_EQ(test::run_cli({"run", suite, "--out", whole}, env).exit_code, 2);  // exists: needs --resume/--force

  // The same suite, killed once the ECT stage has written a checkpoint.
  const auto killed = dir.file("killed");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("CMBENCH_THREADS", "1", 1);
    execl(test::cmbench_binary().c_str(), test::cmbench_binary().c_str(), "run", suite.c_str(), "--out", killed.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto ckpt = fs::path(killed) / "stages" / "ect" / "ckpt-00000002.h5";
  for (int i = 0; i < 60000 && !fs::exists(ckpt); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  const auto partial = results::read_store(killed + "/results.h5");
  for (const auto& run : partial.runs) EXPECT_NE(run.stage, "ect");

  r = test::run_cli({"run", suite, "--out", killed, "--resume"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto a = results::read_store(whole + "/results.h5");
  const auto b = results::read_store(killed + "/results.h5");
  ASSERT_EQ(a.runs.size(), 2u);
  ASSERT_EQ(b.runs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.runs[i].stage, b.runs[i].stage);
    ASSERT_EQ(a.runs[i].evaluations.size(), b.runs[i].evaluations.size());
    for (size_t k = 0; k < a.runs[i].evaluations.size(); ++k) {
      EXPECT_EQ(a.runs[i].evaluations[k].value, b.runs[i].evaluations[k].value) << a.runs[i].stage;
    }
    ASSERT_EQ(a.runs[i].grids.size(), b.runs[i].grids.size());
    for (size_t k = 0; k < a.runs[i].grids.size(); ++k) EXPECT_EQ(a.runs[i].grids[k].png, b.runs[i].grids[k].png);
  }
  expect_same_weights(whole + "/stages/ect/ckpt-00000040.h5", killed + "/stages/ect/ckpt-00000040.h5");

  // Running it again finishes at once: every stage is complete.
  r = test::run_cli({"run", suite, "--out", killed, "--resume"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(results::read_store(killed + "/results.h5").runs.size(), 2u);
}

TEST(SuiteRun, DryRunPrintsThePlanAndWritesNothing) {
  test::TempDir dir;
  const auto out = dir.file("out");
  const auto r = test::run_cli({"run", test::source_path("suites/cifar10-paper.toml"), "--dry-run",
                                "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("390625"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));
  const auto bad = dir.file("bad.toml");
  test::write_text(bad, "[suite]\nname = \"x\"\nbogus = 1\n");
  const auto e = test::run_cli({"run", bad, "--dry-run"});
  EXPECT_EQ(e.exit_code, 2);
  EXPECT_NE(e.err.find(bad + ":3: unknown key 'bogus'"), std::string::npos) << e.err;
}

// The runner's feature paths: FID and sFID against precomputed statistics, IS in torch-fidelity's
// shuffled order, FD_DINOv2 against the statistics file's DINOv2 pair, with synthetic weights. Each
// value must equal what the standalone commands give on the samples the run kept, and each row names
// the detector's and the reference's hashes.
TEST(SuiteRun, InceptionMetricsEqualTheStandaloneCommands) {
  test::TempDir dir;
  const auto reference = test::write_reference_images(dir);
  const auto stats = dir.file("reference-stats.npz");
  const std::vector<std::string> env = {"CMBENCH_THREADS=2"};
  auto r = test::run_cli({"stats", "--input", reference, "--out", stats, "--weights", "synthetic:0", "--with-spatial",
                          "--with-dinov2", "--dinov2-weights", "synthetic:0"},
                         env);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto suite = dir.file("inception.toml");
  test::write_text(suite, ten_sample_suite("inception", 5, R"(is_shuffle_seed = 2020

[evaluation.reference]
statistics = ")" + stats + R"("
weights = "synthetic:0"
dinov2_weights = "synthetic:0"

[metrics.fid]
rtol = 0.1

[metrics.is_mean]
rtol = 0.1

[metrics.sfid]

[metrics.fd_dinov2]
)"));
  const auto out = dir.file("out");
  r = test::run_cli({"run", suite, "--out", out}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto store = results::read_store(out + "/results.h5");
  ASSERT_EQ(store.runs.size(), 1u);
  std::map<std::string, double> values;
  for (const auto& row : store.runs[0].evaluations) {
    values[row.metric] = row.value;
    EXPECT_EQ(row.detector_sha256, "synthetic:0") << row.metric;
    const bool one_set = row.metric == "is_mean" || row.metric == "is_std";
    EXPECT_EQ(row.reference_sha256.size(), one_set ? 0u : 64u) << row.metric;
    EXPECT_EQ(row.protocol_mismatch, "") << row.metric;
  }
  for (const char* metric : {"fid", "is_mean", "is_std", "sfid", "fd_dinov2"}) {
    ASSERT_EQ(values.count(metric), 1u) << metric << "\n" << r.out;
  }
  EXPECT_TRUE(std::isfinite(values["fid"]) && values["fid"] > 0.0) << values["fid"];
  EXPECT_GE(values["is_mean"], 1.0);

  const auto samples = out + "/stages/ect/samples-nfe1-seeds0-9.npz";
  ASSERT_TRUE(fs::exists(samples));
  const auto command = [&](std::vector<std::string> args, const char* key) {
    args.push_back("--json");
    const auto result = test::run_cli(args, env);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false).value(key, -1.0);
  };
  // Streaming vs one-shot sums: 1e-5 absolute.
  EXPECT_NEAR(command({"fid", samples, stats, "--weights", "synthetic:0"}, "fid"), values["fid"], 1e-5 + 1e-6 * values["fid"]);
  EXPECT_NEAR(command({"sfid", samples, stats, "--weights", "synthetic:0"}, "sfid"), values["sfid"],
              1e-5 + 1e-6 * values["sfid"]);
  EXPECT_NEAR(command({"fd-dinov2", samples, stats, "--dinov2-weights", "synthetic:0"}, "fd_dinov2"), values["fd_dinov2"],
              1e-5 + 1e-6 * values["fd_dinov2"]);
  const std::vector<std::string> is_args{"is", samples, "--weights", "synthetic:0", "--shuffle-seed", "2020"};
  EXPECT_NEAR(command(is_args, "is_mean"), values["is_mean"], 1e-9 * values["is_mean"]);
  EXPECT_NEAR(command(is_args, "is_std"), values["is_std"], 1e-9 + 1e-9 * values["is_std"]);
}

// `cmbench swd GENERATED REFERENCE --num N` reproduces a stored SWD to the last digit: the suite
// compares the generated set with EDM's subset of N reference images (here 10 of 16), as the
// command does. The stored policies come from the metric registry, for every value stored.
TEST(SuiteRun, SwdCommandReproducesTheStoredValue) {
  test::TempDir dir;
  const auto reference = test::write_reference_images(dir);
  const auto suite = dir.file("swd.toml");
  test::write_text(suite, ten_sample_suite("swd", 7, R"(
[evaluation.reference]
images = ")" + reference + R"("

[metrics.swd]
)"));
  const std::vector<std::string> env = {"CMBENCH_THREADS=1"};
  const auto out = dir.file("out");
  auto r = test::run_cli({"run", suite, "--out", out}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto store = results::read_store(out + "/results.h5");
  ASSERT_EQ(store.runs.size(), 1u);
  ASSERT_EQ(store.runs[0].evaluations.size(), 1u);
  const auto& row = store.runs[0].evaluations[0];
  EXPECT_EQ(row.metric, "swd");
  EXPECT_EQ(row.reference, reference);
  ASSERT_EQ(store.suites.size(), 1u);
  ASSERT_EQ(store.suites[0].metrics.size(), 1u);
  EXPECT_EQ(store.suites[0].metrics[0].rtol, 1e-3);  // the registry's default tolerance

  const auto samples = out + "/stages/ect/samples-nfe1-seeds0-9.npz";
  for (const auto& num : {std::vector<std::string>{"--num", "10"}, std::vector<std::string>{}}) {
    std::vector<std::string> args = {"swd", samples, reference, "--json"};
    args.insert(args.end(), num.begin(), num.end());
    r = test::run_cli(args, env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("swd").get<double>(), row.value);
  }
  // The first 10 reference images are another set: the old command's value differs.
  const auto first = dir.file("first10.npy");
  auto images = read_npy(reference);
  images.shape[0] = 10;
  images.bytes.resize(10 * 16 * 16 * 3);
  write_npy(first, images);
  r = test::run_cli({"swd", samples, first, "--json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(nlohmann::json::parse(r.out).at("swd").get<double>(), row.value);
}

// Issue 15: every EMA profile a stage trains is evaluated and stored under its name, the default
// weights under ""; EDM2's post-hoc reconstruction from the power profiles is evaluated as
// posthoc-S, its samples equal `cmbench sample` from the file the run wrote; the table names them.
TEST(SuiteRun, EveryProfileAndThePosthocReconstructionAreScored) {
  test::TempDir dir;
  const auto reference = test::write_reference_images(dir);
  const auto suite = dir.file("profiles.toml");
  test::write_text(suite, ten_sample_suite("profiles", 5, R"(
[stages.ect.ema]
ema = { kind = "halflife", halflife_images = 500000 }
p05 = { name = "p05", kind = "power", sigma_rel = 0.05 }
p10 = { name = "p10", kind = "power", sigma_rel = 0.10 }

[stages.ect.evaluation]
posthoc_sigma_rel = [0.07]

[evaluation.reference]
images = ")" + reference + R"("

[metrics.swd]
)"));
  const std::vector<std::string> env = {"CMBENCH_THREADS=1"};
  const auto out = dir.file("out");
  auto r = test::run_cli({"run", suite, "--out", out}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto store = results::read_store(out + "/results.h5");
  ASSERT_EQ(store.runs.size(), 1u);
  std::map<std::string, double> by_profile;
  for (const auto& row : store.runs[0].evaluations) by_profile[row.ema] = row.value;
  ASSERT_EQ(by_profile.size(), 4u) << "default, p05, p10, posthoc-0.070";
  for (const char* profile : {"", "p05", "p10", "posthoc-0.070"}) EXPECT_TRUE(by_profile.count(profile)) << profile;

  // Each profile's kept samples are what `cmbench sample` makes from those weights.
  const auto stage = out + "/stages/ect";
  ASSERT_TRUE(fs::exists(stage + "/posthoc-ema.h5"));
  const std::vector<std::vector<std::string>> profiles = {{"p10", stage + "/ckpt-00000002.h5"},
                                                          {"posthoc-0.070", stage + "/posthoc-ema.h5"}};
  for (const auto& profile : profiles) {
    const auto again = dir.file("again-" + profile[0] + ".npz");
    r = test::run_cli({"sample", "--ckpt", profile[1], "--ema", profile[0], "--num", "10", "--out", again, "--steps",
                       "1"},
                      env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto kept = read_npz(stage + "/samples-ema-" + profile[0] + "-nfe1-seeds0-9.npz").at("images");
    EXPECT_EQ(read_npz(again).at("images").bytes, kept.bytes) << profile[0];
  }

  r = test::run_cli({"table", out + "/results.h5", "--format", "csv"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nect [ema p10],ect,1,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nect [ema posthoc-0.070],ect,1,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nect,ect,1,"), std::string::npos) << r.out;
}

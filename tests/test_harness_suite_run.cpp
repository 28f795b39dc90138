// End to end: `cmbench run` on a tiny synthetic suite, and a run killed (SIGKILL) in the middle of
// a stage then finished with --resume gives the same weights, samples and metric values.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/hdf5.h"
#include "core/npy.h"
#include "results/store.h"
#include "test_util.h"

using namespace cmbench;
namespace fs = std::filesystem;

namespace {

std::string tiny_suite(const std::string& reference) {
  return R"([suite]
name = "tiny"
seed = 3

[data]
source = "gaussian"
channels = 3
resolution = 16

[net]
preset = "cifar10-ddpmpp-tiny"
img_resolution = 16

[train]
batch = 4
log_every = 1
checkpoint_every = 2

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

[evaluation]
nfe = [1, 2]
num_samples = 16
seed_sets = ["0-15"]
batch = 16

[evaluation.sigmas]
2 = [0.821]

[evaluation.reference]
images = ")" + reference + R"("

[metrics.swd]
rtol = 0.1
)";
}

std::string write_reference_images(const test::TempDir& dir) {
  std::vector<uint8_t> pixels(16 * 16 * 16 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37 + i / 768 * 11) % 256);
  const auto path = dir.file("reference.npy");
  write_npy(path, NpyArray::from<uint8_t>({16, 16, 16, 3}, pixels.data()));
  return path;
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
  test::write_text(suite, tiny_suite(write_reference_images(dir)));
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
    execl(CMBENCH_BINARY, CMBENCH_BINARY, "run", suite.c_str(), "--out", killed.c_str(), static_cast<char*>(nullptr));
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
  const auto r = test::run_cli({"run", std::string(CMBENCH_SOURCE_DIR) + "/suites/cifar10-paper.toml", "--dry-run",
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

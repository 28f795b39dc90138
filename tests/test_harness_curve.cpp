// Metric curves in the suite runner (evaluation.curve_every): rows at every curve step and the end,
// the curve points' samples equal `cmbench sample` of their checkpoints, a resumed run re-evaluates
// kept checkpoints into the same rows, and training with curve points ends on the same weights as
// training without them (bit for bit).
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>
#include <vector>

#include "core/hdf5.h"
#include "core/npy.h"
#include "results/store.h"
#include "test_util.h"

using namespace cmbench;
namespace fs = std::filesystem;

namespace {

// One ECT stage of 7 steps (checkpoints every 2 steps), its trained weights (the EMA barely moves in
// 7 steps) evaluated at NFE 1 on 8 samples; with `curve_every` 3 also at steps 3 and 6 (3 is no
// checkpoint step: the trainer stops there for it).
std::string curve_suite(const std::string& reference, int curve_every) {
  return test::tiny_suite_head("curve", 4) + R"(
[stages.ect]
method = "ect"
steps = 7
options = { preset = "cifar10" }

[evaluation]
nfe = [1]
num_samples = 8
seed_sets = ["0-7"]
batch = 8
ema = ["model"]
)" + (curve_every > 0 ? "curve_every = " + std::to_string(curve_every) + "\n" : std::string()) +
         R"(
[evaluation.reference]
images = ")" + reference + R"("

[metrics.swd]
rtol = 0.1
)";
}

using Row = std::tuple<int64_t, int64_t, std::string, double, std::string>;  // step, nfe, metric, value, ema

std::vector<Row> rows_of(const std::string& out) {
  const auto store = results::read_store(out + "/results.h5");
  EXPECT_EQ(store.runs.size(), 1u);
  std::vector<Row> rows;
  if (store.runs.empty()) return rows;
  for (const auto& r : store.runs[0].evaluations) rows.emplace_back(r.step, r.nfe, r.metric, r.value, r.ema);
  return rows;
}

void expect_same_tensors(const std::string& a, const std::string& b) {
  auto fa = h5::open_read(a), fb = h5::open_read(b);
  const auto groups = h5::child_names(fa);
  ASSERT_EQ(groups, h5::child_names(fb));
  for (const auto& group : groups) {
    auto ga = fa.openGroup(group), gb = fb.openGroup(group);
    const auto names = h5::child_names(ga);
    ASSERT_EQ(names, h5::child_names(gb)) << group;
    for (const auto& name : names)
      EXPECT_TRUE(torch::equal(h5::read_tensor(ga, name), h5::read_tensor(gb, name))) << group << "/" << name;
  }
}

std::vector<uint8_t> images_of(const std::string& npz) { return read_npz(npz, {"images"}).at("images").bytes; }

const std::vector<std::string> kEnv = {"CMBENCH_THREADS=1"};

}  // namespace

TEST(HarnessCurve, RowsAtEveryCurveStepFromThatStepsCheckpoint) {
  test::TempDir dir;
  const auto suite = dir.file("curve.toml");
  test::write_text(suite, curve_suite(test::write_reference_images(dir), 3));
  const auto out = dir.file("out");
  auto r = test::run_cli({"run", suite, "--out", out}, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = rows_of(out);
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::get<0>(rows[i]), std::vector<int64_t>({3, 6, 7})[i]);
    EXPECT_EQ(std::get<1>(rows[i]), 1);
    EXPECT_EQ(std::get<2>(rows[i]), "swd");
  }
  EXPECT_NE(std::get<3>(rows[0]), std::get<3>(rows[2]));
  const auto stage = out + "/stages/ect";
  ASSERT_TRUE(fs::exists(stage + "/ckpt-00000003.h5"));  // written for the curve, not by checkpoint_every
  // Each point's samples are `cmbench sample` of its checkpoint, in a folder of its own; grids come
  // from the end only.
  for (const char* step : {"00000003", "00000006"}) {
    const auto kept = stage + "/curve-" + step + "/samples-ema-model-nfe1-seeds0-7.npz";
    ASSERT_TRUE(fs::exists(kept)) << kept;
    const auto again = dir.file(std::string("sample-") + step + ".npz");
    r = test::run_cli({"sample", "--ckpt", stage + "/ckpt-" + step + ".h5", "--num", "8", "--ema", "model", "--out", again},
                     kEnv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(images_of(kept), images_of(again)) << step;
    EXPECT_FALSE(fs::exists(stage + "/curve-" + step + "/grid-nfe1.png"));
  }
  EXPECT_TRUE(fs::exists(stage + "/samples-ema-model-nfe1-seeds0-7.npz"));
  EXPECT_EQ(results::read_store(out + "/results.h5").runs[0].grids.size(), 1u);
}

// Stopping at the curve points and resuming leaves the schedules untouched: the final checkpoint and
// the final row equal those of a run without a curve.
TEST(HarnessCurve, CurvePointsDoNotChangeTheTrainedWeights) {
  test::TempDir dir;
  const auto reference = test::write_reference_images(dir);
  const auto with_curve = dir.file("with.toml"), without_curve = dir.file("without.toml");
  test::write_text(with_curve, curve_suite(reference, 3));
  test::write_text(without_curve, curve_suite(reference, 0));
  const auto a = dir.file("a"), b = dir.file("b");
  auto r = test::run_cli({"run", with_curve, "--out", a}, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli({"run", without_curve, "--out", b}, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_tensors(a + "/stages/ect/ckpt-00000007.h5", b + "/stages/ect/ckpt-00000007.h5");
  const auto curve_rows = rows_of(a), plain_rows = rows_of(b);
  ASSERT_EQ(plain_rows.size(), 1u);
  ASSERT_FALSE(curve_rows.empty());
  EXPECT_EQ(curve_rows.back(), plain_rows[0]);
}

// A run killed after step 4's checkpoint (simulated: the later checkpoints and the store row removed)
// and resumed re-evaluates step 3 from its kept checkpoint, trains on to 6 and 7, and stores the
// same rows; so does a resume that finds every checkpoint kept.
TEST(HarnessCurve, ResumedRunGivesTheSameRows) {
  test::TempDir dir;
  const auto suite = dir.file("curve.toml");
  test::write_text(suite, curve_suite(test::write_reference_images(dir), 3));
  const auto out = dir.file("out");
  auto r = test::run_cli({"run", suite, "--out", out}, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = rows_of(out);
  const auto stage = out + "/stages/ect";
  const auto final_copy = dir.file("final.h5");
  fs::copy_file(stage + "/ckpt-00000007.h5", final_copy);

  fs::remove(out + "/results.h5");
  r = test::run_cli({"run", suite, "--out", out, "--resume"}, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("training ect to step"), std::string::npos) << r.err;  // nothing retrained
  EXPECT_EQ(rows_of(out), rows);

  fs::remove(out + "/results.h5");
  for (const char* step : {"00000006", "00000007"}) fs::remove(stage + "/ckpt-" + step + ".h5");
  r = test::run_cli({"run", suite, "--out", out, "--resume"}, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("training ect to step 6 of 7 (metric curve, resuming)"), std::string::npos) << r.err;
  EXPECT_EQ(rows_of(out), rows);
  expect_same_tensors(stage + "/ckpt-00000007.h5", final_copy);
}

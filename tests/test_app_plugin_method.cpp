// Issue 12's closing demonstration: a method defined entirely in this file (a Method subclass and
// its registry entry) trains with `cmbench train`, samples with `cmbench sample` and runs through
// `cmbench run` on a suite with SWD evaluation, the command line called in-process. No other file
// knows the method.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/command_line.h"
#include "core/error.h"
#include "core/npy.h"
#include "methods/consistency.h"
#include "methods/options.h"
#include "methods/registry.h"
#include "results/store.h"
#include "test_util.h"

using namespace cmbench;
namespace fs = std::filesystem;

namespace {

// Consistency training on geometric pairs: ln t ~ N(p_mean, p_std), r = ratio * t with the same
// eps; the student D(x0 + t eps, t) is pulled toward the stop-grad target D(x0 + r eps, r) (same
// dropout masks), per sample (1 / (t - r)) * mean squared difference. ECT's objective with a fixed
// r/t instead of its staged mapping; sampled with the one-step / multistep CM rule.
class GeometricPairMethod : public Method {
 public:
  explicit GeometricPairMethod(const Config& table) {
    OptionReader o(table);
    p_mean_ = o.number("p_mean", -1.1);
    p_std_ = o.number("p_std", 2.0);
    ratio_ = o.number("ratio", 0.5);
    resolved_ = o.finish();
    if (ratio_ <= 0 || ratio_ >= 1) throw InputError("method.ratio must be in (0, 1)");
  }

  std::string name() const override { return "geometric_pair"; }
  std::string default_sampler() const override { return "cm"; }

  TensorMap draw(const TrainingBatch& batch, const StepContext& ctx) const override {
    return draw_level_and_noise(batch.images, batch.labels, "t", p_mean_, p_std_, 0.0, ctx.generator);
  }

  LossResult loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& /*ctx*/,
                  const Networks& nets) const override {
    const auto& x0 = batch.images;
    const auto& t = draws.at("t");
    const auto& eps = draws.at("eps");
    const auto r = ratio_ * t;
    const auto pair = paired_passes(*nets.student, nets.target_network(), x0 + per_image(t, x0) * eps, t,
                                    x0 + per_image(r, x0) * eps, r, batch.labels);
    LossResult result;
    result.per_sample = mean_squared_distance(pair.student, pair.target) / (t - r);
    result.outputs["r"] = r;
    return result;
  }

 private:
  double p_mean_, p_std_, ratio_;
};

const char* const kMethod = "geometric_pair";

void register_once() {
  static const bool registered = [] {
    register_method(kMethod, [](const Config& table) { return std::make_unique<GeometricPairMethod>(table); },
                    "consistency training on geometric pairs r = ratio * t (defined in a test)");
    return true;
  }();
  (void)registered;
}

// The command line in-process, with its standard output captured.
struct CommandResult {
  int exit_code;
  std::string out;
};
CommandResult cmbench_command(const std::vector<std::string>& args) {
  std::ostringstream captured;
  auto* previous = std::cout.rdbuf(captured.rdbuf());
  const int code = cli::run_command_line(args);
  std::cout.rdbuf(previous);
  return {code, captured.str()};
}

}  // namespace

TEST(PluginMethod, RegistersAtRunTimeOnceOnly) {
  register_once();
  EXPECT_TRUE(method_registry().contains(kMethod));
  EXPECT_EQ(make_method(kMethod)->name(), kMethod);
  EXPECT_EQ(method_registry().loss_case_translation(kMethod), nullptr);  // no reference cases
  EXPECT_THROW(register_method(kMethod, [](const Config& t) { return std::make_unique<GeometricPairMethod>(t); }, ""),
               std::logic_error);
  EXPECT_THROW(register_method("ect", [](const Config& t) { return std::make_unique<GeometricPairMethod>(t); }, ""),
               std::logic_error);
}

TEST(PluginMethod, TrainsAndSamplesThroughTheCommandLine) {
  register_once();
  test::TempDir dir;
  test::write_text(dir.file("train.toml"), std::string("seed = 5\ndevice = \"cpu\"\n[method]\nname = \"") + kMethod +
                                               "\"\nratio = 0.6\n" + test::tiny_data_and_net() +
                                               "\n[train]\nsteps = 4\nbatch = 4\nlr = 1e-3\ncheckpoint_every = 2\n");
  const auto out = dir.file("run");
  const auto train = cmbench_command({"train", "--config", dir.file("train.toml"), "--out", out});
  ASSERT_EQ(train.exit_code, 0) << train.out;
  const auto summary = nlohmann::json::parse(train.out);
  EXPECT_EQ(summary.at("steps").get<int64_t>(), 4);
  EXPECT_TRUE(std::isfinite(summary.at("final_loss").get<double>()));
  EXPECT_GT(summary.at("final_loss").get<double>(), 0.0);
  std::set<std::string> checkpoints;
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().extension() == ".h5") checkpoints.insert(entry.path().filename().string());
  EXPECT_EQ(checkpoints.size(), 2u) << "checkpoints at steps 2 and 4";
  const auto ckpt = summary.at("checkpoint").get<std::string>();
  ASSERT_TRUE(fs::exists(ckpt));

  // Two steps with the method's default levels, by the sampler its registry entry chose.
  const auto method = make_method(kMethod);
  const auto sample = cmbench_command({"sample", "--ckpt", ckpt, "--num", "5", "--out", dir.file("s.npz"), "--steps", "2"});
  ASSERT_EQ(sample.exit_code, 0) << sample.out;
  const auto report = nlohmann::json::parse(sample.out);
  EXPECT_EQ(report.at("sampler").get<std::string>(), method->default_sampler());
  EXPECT_EQ(report.at("levels").get<std::vector<double>>(), method->default_levels(2));
  EXPECT_EQ(report.at("nfe").get<int64_t>(), 2);
  const auto images = read_npz(dir.file("s.npz")).at("images");
  EXPECT_EQ(images.shape, (std::vector<int64_t>{5, 16, 16, 3}));

  // Unknown options of the new method are refused like any method's.
  const auto bad = cmbench_command({"train", "--config", dir.file("train.toml"), "--set", "method.ratioo=0.5",
                                    "--out", dir.file("bad")});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(PluginMethod, RunsInASuiteWithSwdEvaluation) {
  register_once();
  test::TempDir dir;
  const auto suite = dir.file("plugin.toml");
  test::write_text(suite, test::tiny_suite_head("plugin", 2) + R"(
[stages.pair]
method = ")" + kMethod + R"("
steps = 3
)" + test::tiny_swd_evaluation(8, test::write_reference_images(dir)));
  const auto out = dir.file("out");
  const auto run = cmbench_command({"run", suite, "--out", out});
  ASSERT_EQ(run.exit_code, 0) << run.out;

  const auto store = results::read_store(out + "/results.h5");
  ASSERT_EQ(store.runs.size(), 1u);
  const auto& record = store.runs[0];
  EXPECT_EQ(record.method, kMethod);
  EXPECT_EQ(record.stage, "pair");
  std::set<int64_t> swd_nfes;
  for (const auto& row : record.evaluations) {
    if (row.metric != "swd") continue;
    swd_nfes.insert(row.nfe);
    EXPECT_TRUE(std::isfinite(row.value) && row.value > 0) << "nfe " << row.nfe;
    EXPECT_EQ(row.num_samples, 8);
    EXPECT_EQ(row.step, 3);
  }
  EXPECT_EQ(swd_nfes, (std::set<int64_t>{1, 2}));
}

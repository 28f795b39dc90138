// ECT's staged mapping r(t) and weight (METHODS.md §6; locuslab/ect training/loss.py ECMLoss) over
// long runs, and its stage length counted in training images as ECT's training loop counts it.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "methods/registry.h"
#include "methods/schedules.h"
#include "methods/toy_networks.h"

namespace cmbench {
namespace {

Config table(const std::string& text) { return Config::from_string(text, "<test>"); }

// With q = 2, n(t)/q^(stage+1) drops below float32's epsilon after about 26 stages: 1 - n/q^(s+1)
// rounds to 1, r to t, and a weight 1/(t - r) formed by subtraction is inf (NaN with a zero distance).
TEST(Ect, InverseGapWeightStaysFiniteAfterManyStages) {
  auto gen = make_generator(4, "ect");
  const auto x0 = (torch::rand({3, 3, 4, 4}, gen, torch::kFloat64) * 2 - 1).to(torch::kFloat32);
  const auto t = torch::tensor({0.5, 2.0, 10.0}, torch::kFloat32);
  TensorMap draws{{"t", t}, {"eps", torch::randn({3, 3, 4, 4}, gen, torch::kFloat32)}};
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  auto method = make_method(table("name = \"ect\"\nq = 2.0\nstage_steps = 1\nweight = \"inverse_gap\""));
  for (const int64_t stage : {26, 30, 60}) {
    StepContext ctx;
    ctx.step = stage;
    const auto result = method->loss(TrainingBatch{x0, {}, {}, {}, {}, {}}, draws, ctx, nets);
    ASSERT_TRUE(torch::isfinite(result.per_sample).all().item<bool>()) << "stage " << stage;
    const auto t64 = t.to(torch::kFloat64);
    const auto gap = t64 * (1.0 + 8.0 * torch::sigmoid(-t64)) / std::pow(2.0, stage + 1.0);
    const auto want = 1.0 / gap;
    const auto weight = result.outputs.at("weight").to(torch::kFloat64);
    EXPECT_LT(((weight - want) / want).abs().max().item<double>(), 1e-6) << "stage " << stage;
  }
}


// ECT's loop (locuslab/ect training/ct_training_loop.py) advances the stage every `double` ticks of
// `tick` kimg: run_ecm.sh's --double 250 --tick 12.8 is a stage of 3.2M images, 25000 steps at batch
// 128 and 3125 at batch 1024. stage_images follows the images; stage_steps counts steps.
double ect_formula_stage(int64_t images) { return std::floor(static_cast<double>(images) / (250 * 12800.0)); }

TEST(Ect, StageImagesFollowEctsScheduleAtAnyBatch) {
  auto gen = make_generator(9, "stage");
  const auto x0 = torch::rand({2, 3, 4, 4}, gen, torch::kFloat64) * 2 - 1;
  const auto t = torch::tensor({0.3, 4.0}, torch::kFloat64);
  TensorMap draws{{"t", t}, {"eps", torch::randn({2, 3, 4, 4}, gen, torch::kFloat64)}};
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  const TrainingBatch batch{x0, {}, {}, {}, {}, {}};
  for (const char* name : {"ect", "sct"}) {
    auto by_images = make_method(table(std::string("name = \"") + name + "\"\nstage_images = 3200000"));
    auto by_steps = make_method(name);  // stage_steps 25000
    for (const int64_t global_batch : {128, 1024}) {
      for (const int64_t step : {0, 3124, 3125, 24999, 25000, 50000, 90000}) {
        StepContext ctx;
        ctx.step = step;
        ctx.global_batch = global_batch;
        const double stage = ect_formula_stage(step * global_batch);
        const auto r = by_images->loss(batch, draws, ctx, nets).outputs.at("r");
        EXPECT_TRUE(torch::equal(r, ect_r(t, stage))) << name << " batch " << global_batch << " step " << step;
        if (global_batch == 128) {
          EXPECT_TRUE(torch::equal(r, by_steps->loss(batch, draws, ctx, nets).outputs.at("r")));
        }
      }
    }
  }
  EXPECT_EQ(ect_stage(3125 * 1024, 3200000), 1.0);
  EXPECT_EQ(ect_stage(3124 * 1024, 3200000), 0.0);
  EXPECT_DOUBLE_EQ(ect_stage(1600000, 3200000, /*smooth=*/true), 0.5);
}

TEST(Ect, OneStageLength) {
  EXPECT_THROW(make_method(table("name = \"ect\"\nstage_images = 3200000\nstage_steps = 25000")), InputError);
  EXPECT_THROW(make_method(table("name = \"ect\"\nstage_images = -1")), InputError);
  EXPECT_THROW(make_method(table("name = \"ect\"\nstage_steps = 0")), InputError);
  EXPECT_EQ(make_method("ect")->resolved().at("stage_steps").get<int64_t>(), 25000);
  // stage_images needs the loop's global batch.
  auto method = make_method(table("name = \"ect\"\nstage_images = 3200000"));
  const auto x0 = torch::zeros({1, 1, 2, 2}, torch::kFloat64);
  TensorMap draws{{"t", torch::tensor({1.0}, torch::kFloat64)}, {"eps", torch::zeros({1, 1, 2, 2}, torch::kFloat64)}};
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  EXPECT_THROW(method->loss(TrainingBatch{x0, {}, {}, {}, {}, {}}, draws, StepContext{}, nets), std::logic_error);
}

}  // namespace
}  // namespace cmbench

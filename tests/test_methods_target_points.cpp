// Method::target_points, the analysis path of the training target, against the training loss's own
// target point (the second path must equal the first) and the schedules' levels.
#include <gtest/gtest.h>

#include "core/rng.h"
#include "methods/ct.h"
#include "methods/consistency.h"
#include "methods/registry.h"
#include "methods/schedules.h"
#include "methods/toy_networks.h"

namespace cmbench {
namespace {

Config table(const std::string& text) { return Config::from_string(text, "<test>"); }

struct Rows {
  torch::Tensor x0, eps, t, x_t;
};

Rows rows(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed, "target-points");
  Rows r;
  r.x0 = torch::rand({n, 3, 4, 4}, gen, torch::kFloat64) * 2 - 1;
  r.eps = torch::randn({n, 3, 4, 4}, gen, torch::kFloat64);
  r.t = torch::exp(torch::randn({n}, gen, torch::kFloat64) * 1.5 - 0.5);
  r.x_t = r.x0 + per_image(r.t, r.x0) * r.eps;
  return r;
}

TEST(TargetPoints, EctIsTheLossTargetPointAtTheStagesLevel) {
  const auto r = rows(6, 1);
  StepContext ctx;
  ctx.step = 3 * 25000 + 10;
  const auto method = make_method("ect");
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  TrainingBatch batch{r.x0, {}, {}, {}, {}, {}};
  const auto loss = method->loss(batch, {{"t", r.t}, {"eps", r.eps}}, ctx, nets);
  const auto points = method->target_points(r.x0, r.x_t, r.t, torch::Tensor(), ctx);
  ASSERT_TRUE(points.has_value());
  EXPECT_TRUE(torch::allclose(points->r, ect_r(r.t, 3.0)));
  EXPECT_TRUE(torch::allclose(points->r, loss.outputs.at("r")));
  EXPECT_LT((points->x_r - loss.outputs.at("x_r")).abs().max().item<double>(), 1e-12);
  EXPECT_EQ(method->target_reference_count(32), 0);
}

TEST(TargetPoints, SctWithTheBatchAsReferencesIsTheLossTargetPoint) {
  // Row i's reference set in training is the whole batch; the analysis path takes row i's own image
  // plus the others, so each row is checked with the other rows as references.
  const auto r = rows(8, 2);
  StepContext ctx;
  ctx.step = 2 * 25000;
  const auto method = make_method("sct");
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  TrainingBatch batch{r.x0, {}, {}, {}, r.x0, {}};
  const auto loss = method->loss(batch, {{"t", r.t}, {"eps", r.eps}}, ctx, nets);
  EXPECT_EQ(method->target_reference_count(8), 7);
  for (int64_t i = 0; i < 8; ++i) {
    const auto others = torch::cat({r.x0.slice(0, 0, i), r.x0.slice(0, i + 1)});
    const auto points = method->target_points(r.x0.slice(0, i, i + 1), r.x_t.slice(0, i, i + 1), r.t.slice(0, i, i + 1),
                                              others, ctx);
    ASSERT_TRUE(points.has_value());
    EXPECT_LT((points->x_r - loss.outputs.at("x_r").slice(0, i, i + 1)).abs().max().item<double>(), 1e-10) << "row " << i;
  }
  // Without references SCT is ECT.
  const auto alone = method->target_points(r.x0, r.x_t, r.t, torch::Tensor(), ctx);
  const auto ect = make_method("ect")->target_points(r.x0, r.x_t, r.t, torch::Tensor(), ctx);
  EXPECT_LT((alone->x_r - ect->x_r).abs().max().item<double>(), 1e-12);
  const auto pool = make_method(table("name = \"sct\"\nreference_set = \"pool\"\npool_size = 1024"));
  EXPECT_EQ(pool->target_reference_count(32), 1023);
  EXPECT_EQ(pool->target_reference_count(2048), 2047);
}

TEST(TargetPoints, CtAndIctStepToTheGridLevelBelow) {
  const auto r = rows(5, 3);
  StepContext ctx;
  ctx.step = 100;
  ctx.total_steps = 1000;
  const auto ct = make_method("ct");
  const auto grid = dynamic_cast<const CtMethod&>(*ct).grid(ctx.step, ctx.total_steps);
  const auto points = ct->target_points(r.x0, r.x_t, r.t, torch::Tensor(), ctx);
  ASSERT_TRUE(points.has_value());
  for (int64_t i = 0; i < 5; ++i) {
    const double t = r.t[i].item<double>();
    double below = -1;
    for (int64_t g = 0; g < grid.size(0); ++g) {
      const double level = grid[g].item<double>();
      if (level < t && level > below) below = level;
    }
    EXPECT_DOUBLE_EQ(points->r[i].item<double>(), below > 0 ? below : t);
  }
  EXPECT_TRUE(torch::allclose(points->x_r, r.x0 + per_image(points->r, r.x0) * r.eps, 1e-12, 1e-12));
  EXPECT_TRUE(make_method("ict")->target_points(r.x0, r.x_t, r.t, torch::Tensor(), ctx).has_value());
  EXPECT_FALSE(make_method("edm")->target_points(r.x0, r.x_t, r.t, torch::Tensor(), ctx).has_value());
  EXPECT_FALSE(make_method("cd")->target_points(r.x0, r.x_t, r.t, torch::Tensor(), ctx).has_value());
  // Below the lowest level there is nothing to step to: r = t.
  const auto tiny = torch::tensor({0.001}, torch::kFloat64);
  EXPECT_DOUBLE_EQ(grid_level_below(grid, tiny).item<double>(), 0.001);
}

}  // namespace
}  // namespace cmbench

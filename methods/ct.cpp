#include "methods/ct.h"

#include "methods/consistency.h"
#include "methods/schedules.h"

namespace cmbench {

// CIFAR-10: s1 = 150, mu0 = 0.9 (METHODS.md §4); ImageNet-64: s1 = 200, mu0 = 0.95
// (openai/consistency_models scripts/launch.sh, L_CT^N: end_scales 200, start_ema 0.95).
CtMethod::CtMethod(const Config& table) : CtMethod(table, Defaults{0, 0, 0.9, 0.95}) {}

CtMethod::CtMethod(const Config& table, Defaults defaults) {
  OptionReader o(table);
  grid_points_ = o.integer("grid_points", o.by_preset(defaults.grid_points_cifar10, defaults.grid_points_imagenet64));
  s0_ = o.number("s0", 2.0);
  s1_ = o.number("s1", o.by_preset(150.0, 200.0));
  mu0_ = o.number("mu0", o.by_preset(defaults.mu0_cifar10, defaults.mu0_imagenet64));
  sigma_min_ = o.number("sigma_min", 0.002);
  sigma_max_ = o.number("sigma_max", 80.0);
  rho_ = o.number("rho", 7.0);
  label_dropout_ = o.number("label_dropout", 0.0);
  distance_ = CmDistance(o, table);
  resolved_ = o.finish();
}

torch::Tensor CtMethod::grid(int64_t step, int64_t total_steps) const {
  const int64_t points = grid_points_ > 0 ? grid_points_ : cm_grid_points(step, total_steps, s0_, s1_);
  return karras_sigmas(points, sigma_min_, sigma_max_, rho_);
}

double CtMethod::target_rate(int64_t step, int64_t total_steps) const {
  if (mu0_ <= 0) return 0.0;
  return grid_points_ > 0 ? mu0_ : cm_target_rate(step, total_steps, s0_, s1_, mu0_);
}

std::optional<Method::TargetPoints> CtMethod::target_points(const torch::Tensor& x0, const torch::Tensor& x_t,
                                                           const torch::Tensor& t, const torch::Tensor& /*references*/,
                                                           const StepContext& ctx) const {
  const auto r = grid_level_below(grid(ctx.step, ctx.total_steps), t);
  return TargetPoints{r, one_sample_point(x0, x_t, t, r)};
}

TensorMap CtMethod::draw(const TrainingBatch& batch, const StepContext& ctx) const {
  const auto& x0 = batch.images;
  const int64_t points = grid(ctx.step, ctx.total_steps).size(0);
  TensorMap d;
  d["index"] = torch::randint(0, points - 1, {x0.size(0)}, ctx.generator, torch::kInt64);
  d["eps"] = draw_normal_like(x0, ctx.generator);
  if (label_dropout_ > 0 && batch.labels.defined())
    d["labels"] = drop_labels(batch.labels, label_dropout_, ctx.generator);
  return d;
}

torch::Tensor CtMethod::lower_point(const TrainingBatch& batch, const torch::Tensor& /*x_t*/, const torch::Tensor& eps,
                                    const torch::Tensor& /*t*/, const torch::Tensor& t2, const torch::Tensor& /*labels*/,
                                    const Networks& /*nets*/) const {
  return batch.images + per_image(t2, eps) * eps;
}

LossResult CtMethod::loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& ctx,
                          const Networks& nets) const {
  const auto& x0 = batch.images;
  const auto& eps = draws.at("eps");
  const auto labels = draws.count("labels") ? draws.at("labels") : batch.labels;
  const auto sigmas = grid(ctx.step, ctx.total_steps).to(x0.options());
  const auto index = draws.at("index").to(torch::kInt64).to(x0.device());
  const auto t = sigmas.index_select(0, index);
  const auto t2 = sigmas.index_select(0, index + 1);

  const auto x_t = x0 + per_image(t, x0) * eps;
  const auto x_t2 = lower_point(batch, x_t, eps, t, t2, labels, nets);
  const auto pair = paired_passes(*nets.student, nets.target_network(), x_t, t, x_t2, t2, labels);

  LossResult result;
  result.per_sample = distance_(pair.student, pair.target);
  result.outputs["t"] = t;
  result.outputs["t2"] = t2;
  result.outputs["x_t2"] = x_t2;
  result.outputs["student"] = pair.student;
  result.outputs["target"] = pair.target;
  return result;
}

void translate_grid_case(const LossCase& c, LossCaseInputs& in) {
  in.set_integer("grid_points", static_cast<int64_t>(c.number("grid_points")));
  in.draws["index"] = c.tensor("index").to(torch::kInt64);
}

void translate_ct_case(const LossCase& c, LossCaseInputs& in) {
  translate_grid_case(c, in);
  const auto distance = c.spec().value("distance", std::string("mean over C*H*W of squared difference"));
  if (distance != "mean over C*H*W of squared difference") c.fail("unknown distance '" + distance + "'");
  in.set_text("distance", "l2");
}

std::unique_ptr<Method> make_ct(const Config& table) { return std::make_unique<CtMethod>(table); }

}  // namespace cmbench

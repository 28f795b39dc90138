// Improved consistency training, iCT (METHODS.md §5; Song & Dhariwal 2023): no target EMA (the
// target is the stop-grad student), pseudo-Huber on the whole image with c = 0.00054 sqrt(C*H*W),
// weight 1/(s_{i+1} - s_i), level i from the discretized lognormal over the ascending grid, and the
// doubling curriculum N(k). Student at s_{i+1}, target at s_i, same eps.
#include "methods/consistency.h"
#include "methods/method.h"
#include "methods/options.h"
#include "methods/schedules.h"

namespace cmbench {

namespace {

class IctMethod : public Method {
 public:
  explicit IctMethod(const Config& table) {
    OptionReader o(table);
    grid_points_ = o.integer("grid_points", 0);  // 0: the curriculum N(k)
    s0_ = o.integer("s0", 10);
    s1_ = o.integer("s1", 1280);
    p_mean_ = o.number("p_mean", -1.1);
    p_std_ = o.number("p_std", 2.0);
    sigma_min_ = o.number("sigma_min", 0.002);
    sigma_max_ = o.number("sigma_max", 80.0);
    rho_ = o.number("rho", 7.0);
    huber_c_ = o.number("huber_c", 0.0);  // 0: 0.00054 sqrt(C*H*W)
    label_dropout_ = o.number("label_dropout", 0.0);
    resolved_ = o.finish();
  }

  std::string name() const override { return "ict"; }
  std::string default_sampler() const override { return "cm"; }

  TensorMap draw(const TrainingBatch& batch, const StepContext& ctx) const override {
    const auto& x0 = batch.images;
    const auto probs = discretized_lognormal(ascending_grid(ctx), p_mean_, p_std_);
    TensorMap d;
    d["index"] = torch::multinomial(probs, x0.size(0), /*replacement=*/true, ctx.generator);
    d["eps"] = draw_normal_like(x0, ctx.generator);
    if (label_dropout_ > 0 && batch.labels.defined())
      d["labels"] = drop_labels(batch.labels, label_dropout_, ctx.generator);
    return d;
  }

  // Target statistics: the student at t trains towards the grid level below it, as CT.
  std::optional<TargetPoints> target_points(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                                            const torch::Tensor& /*references*/, const StepContext& ctx) const override {
    const auto r = grid_level_below(ascending_grid(ctx), t);
    return TargetPoints{r, one_sample_point(x0, x_t, t, r)};
  }

  LossResult loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& ctx,
                  const Networks& nets) const override {
    const auto& x0 = batch.images;
    const auto& eps = draws.at("eps");
    const auto labels = draws.count("labels") ? draws.at("labels") : batch.labels;
    const auto sigmas = ascending_grid(ctx).to(x0.options());
    const auto index = draws.at("index").to(torch::kInt64).to(x0.device());
    const auto s_target = sigmas.index_select(0, index);
    const auto s_student = sigmas.index_select(0, index + 1);

    const auto x_student = x0 + per_image(s_student, x0) * eps;
    const auto x_target = x0 + per_image(s_target, x0) * eps;
    const auto pair = paired_passes(*nets.student, *nets.student, x_student, s_student, x_target, s_target, labels);

    const double c = huber_c_ > 0 ? huber_c_ : ict_huber_c(x0);
    LossResult result;
    result.per_sample = pseudo_huber_distance(pair.student, pair.target, c) / (s_student - s_target);
    result.outputs["sigma_student"] = s_student;
    result.outputs["sigma_target"] = s_target;
    result.outputs["c"] = torch::tensor(c, x0.options());
    result.outputs["student"] = pair.student;
    result.outputs["target"] = pair.target;
    return result;
  }

 private:
  torch::Tensor ascending_grid(const StepContext& ctx) const {
    const int64_t points = grid_points_ > 0 ? grid_points_ : ict_grid_points(ctx.step, ctx.total_steps, s0_, s1_);
    return karras_sigmas(points, sigma_min_, sigma_max_, rho_).flip(0);
  }

  int64_t grid_points_, s0_, s1_;
  double p_mean_, p_std_, sigma_min_, sigma_max_, rho_, huber_c_, label_dropout_;
};

}  // namespace

std::unique_ptr<Method> make_ict(const Config& table) { return std::make_unique<IctMethod>(table); }

}  // namespace cmbench

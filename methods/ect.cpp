#include "methods/ect.h"

#include "core/error.h"
#include "core/rng.h"
#include "methods/consistency.h"
#include "methods/schedules.h"

namespace cmbench {

EctMethod::EctMethod(const Config& table) {
  OptionReader reader(table);
  read_options(reader);
  resolved_ = reader.finish();
}

EctMethod::EctMethod(const Config& /*table*/, OptionReader& reader) { read_options(reader); }

void EctMethod::read_options(OptionReader& o) {
  p_mean_ = o.number("p_mean", o.by_preset(-1.1, -0.8));
  p_std_ = o.number("p_std", o.by_preset(2.0, 1.6));
  q_ = o.number("q", o.by_preset(2.0, 4.0));
  // ECT counts a stage in images: --double 250 ticks of --tick 12.8 kimg (locuslab/ect run_ecm.sh,
  // training/ct_training_loop.py), 3.2M images = 25000 steps at batch 128. stage_images follows ECT at
  // any batch; stage_steps (the default, 25000) counts optimizer steps.
  stage_images_ = o.integer("stage_images", 0);
  stage_steps_ = o.integer("stage_steps", stage_images_ > 0 ? 0 : 25000);
  if (stage_images_ < 0 || stage_steps_ < 0 || (stage_images_ > 0) == (stage_steps_ > 0))
    throw InputError("method.stage_steps / method.stage_images: give one stage length, > 0 (stage_images " +
                     std::to_string(stage_images_) + ", stage_steps " + std::to_string(stage_steps_) + ")");
  smooth_stages_ = o.flag("smooth_stages", false);
  k_ = o.number("k", 8.0);
  b_ = o.number("b", 1.0);
  c_ = o.number("c", o.by_preset(0.0, 0.06));
  // inverse_gap: 1/(t - r) (CIFAR-10); edm: 1/t^2 + 1/sigma_data^2 (ImageNet-64).
  weight_ = o.choice("weight", o.by_preset<std::string>("inverse_gap", "edm"), {"inverse_gap", "edm"});
  label_dropout_ = o.number("label_dropout", 0.0);
}

TensorMap EctMethod::draw(const TrainingBatch& batch, const StepContext& ctx) const {
  return draw_level_and_noise(batch.images, batch.labels, "t", p_mean_, p_std_, label_dropout_, ctx.generator);
}

double EctMethod::stage(const StepContext& ctx) const {
  if (stage_steps_ > 0) return ect_stage(ctx.step, stage_steps_, smooth_stages_);
  if (ctx.global_batch <= 0)
    throw std::logic_error("ect: stage_images needs StepContext::global_batch from the training loop");
  return ect_stage(ctx.step * ctx.global_batch, stage_images_, smooth_stages_);
}

EctMethod::TargetPoint EctMethod::target_point(const TrainingBatch& batch, const torch::Tensor& /*labels*/,
                                                const torch::Tensor& /*x_t*/, const torch::Tensor& eps,
                                                const torch::Tensor& /*t*/, const torch::Tensor& r,
                                                TensorMap& /*outputs*/) const {
  return {batch.images + per_image(r, eps) * eps, batch.images};
}

std::optional<Method::TargetPoints> EctMethod::target_points(const torch::Tensor& x0, const torch::Tensor& x_t,
                                                            const torch::Tensor& t, const torch::Tensor& references,
                                                            const StepContext& ctx) const {
  const auto r = ect_r(t, stage(ctx), q_, k_, b_);
  return TargetPoints{r, analysed_point(x0, x_t, t, r, references)};
}

torch::Tensor EctMethod::analysed_point(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                                        const torch::Tensor& r, const torch::Tensor& /*references*/) const {
  return one_sample_point(x0, x_t, t, r);
}

LossResult EctMethod::loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& ctx,
                           const Networks& nets) const {
  const auto& x0 = batch.images;
  const auto& t = draws.at("t");
  const auto& eps = draws.at("eps");
  const auto labels = draws.count("labels") ? draws.at("labels") : batch.labels;
  const double stage_now = stage(ctx);
  const auto r = ect_r(t, stage_now, q_, k_, b_);

  LossResult result;
  const auto x_t = x0 + per_image(t, x0) * eps;
  const auto point = target_point(batch, labels, x_t, eps, t, r, result.outputs);

  Denoiser& net = *nets.student;
  const auto device = x0.device();
  const auto state = generator_state(default_generator(device));
  const auto student = net.forward(x_t, t, labels);
  torch::Tensor target = point.zero_target;
  // r == 0 rows need no pass (the target is fixed); skip the pass entirely when every r is 0.
  if ((r > 0).any().item<bool>()) {
    const auto d_r = replayed_target_pass(net, point.x_r, r, labels, state, device);
    target = torch::where(per_image(r > 0, x0), d_r, point.zero_target);
  }

  const auto delta = squared_norm(student - target);
  const auto distance = (delta + c_ * c_).sqrt() - c_;
  const double sd = net.precond().sigma_data;
  const auto weight =
      weight_ == "inverse_gap" ? 1.0 / ect_gap(t, stage_now, q_, k_, b_) : 1.0 / t.square() + 1.0 / (sd * sd);
  result.per_sample = weight * distance;
  result.outputs["t"] = t;
  result.outputs["r"] = r;
  result.outputs["x_r"] = point.x_r;
  result.outputs["student"] = student;
  result.outputs["target"] = target;
  result.outputs["delta"] = delta;
  result.outputs["weight"] = weight;
  return result;
}

void translate_ect_case(const LossCase& c, LossCaseInputs& in) {
  for (const char* key : {"q", "k", "b", "c"}) in.set_number(key, c.number(key));
  // The manifest writes the weight as a formula; the options name it.
  const auto weight = c.text("weight");
  if (weight == "1/(t-r)") in.set_text("weight", "inverse_gap");
  else if (weight == "1/t^2+1/sigma_data^2") in.set_text("weight", "edm");
  else c.fail("unknown weight '" + weight + "'");
  in.draws["t"] = c.tensor("t");
}

std::unique_ptr<Method> make_ect(const Config& table) { return std::make_unique<EctMethod>(table); }

}  // namespace cmbench

// EDM diffusion pretraining (METHODS.md §3; NVlabs/edm training/loss.py, EDMLoss): the teacher of
// CD and the initialization of ECT and SCT. Per sample lambda(s) ||D(x0 + s eps, s) - x0||^2 summed
// over elements, lambda(s) = (s^2 + sd^2) / (s sd)^2, ln s ~ N(-1.2, 1.2).
#include "methods/consistency.h"
#include "methods/method.h"
#include "methods/options.h"

namespace cmbench {

namespace {

class EdmMethod : public Method {
 public:
  explicit EdmMethod(const Config& table) {
    OptionReader o(table);
    p_mean_ = o.number("p_mean", -1.2);
    p_std_ = o.number("p_std", 1.2);
    label_dropout_ = o.number("label_dropout", 0.0);
    resolved_ = o.finish();
  }

  std::string name() const override { return "edm"; }
  std::string default_sampler() const override { return "heun"; }

  TensorMap draw(const TrainingBatch& batch, const StepContext& ctx) const override {
    return draw_level_and_noise(batch.images, batch.labels, "sigma", p_mean_, p_std_, label_dropout_, ctx.generator);
  }

  LossResult loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& /*ctx*/,
                  const Networks& nets) const override {
    const auto& x0 = batch.images;
    const auto& sigma = draws.at("sigma");
    const auto labels = draws.count("labels") ? draws.at("labels") : batch.labels;
    const double sd = nets.student->precond().sigma_data;
    const auto weight = (sigma.square() + sd * sd) / (sigma * sd).square();
    const auto denoised = nets.student->forward(x0 + per_image(sigma, x0) * draws.at("eps"), sigma, labels);
    LossResult result;
    result.per_sample = weight * squared_norm(denoised - x0);
    result.outputs["weight"] = weight;
    result.outputs["denoised"] = denoised;
    return result;
  }

 private:
  double p_mean_, p_std_, label_dropout_;
};

}  // namespace

std::unique_ptr<Method> make_edm(const Config& table) { return std::make_unique<EdmMethod>(table); }

}  // namespace cmbench

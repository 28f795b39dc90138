// EDM diffusion pretraining (METHODS.md §3; NVlabs/edm training/loss.py, EDMLoss): the teacher of
// CD and the initialization of ECT and SCT. Per sample lambda(s) ||D(x0 + s eps, s) - x0||^2 summed
// over elements, lambda(s) = (s^2 + sd^2) / (s sd)^2, ln s ~ N(-1.2, 1.2).
// weighting = "uncertainty" is EDM2's loss (NVlabs/edm2 training/training_loop.py, EDM2Loss): the
// network's learned log-variance u(s) divides the weight and is added per element, so per sample
// lambda(s) / exp(u(s)) ||D - x0||^2 + numel * u(s). EDM2 ImageNet-64 draws ln s ~ N(-0.8, 1.6).
#include "methods/consistency.h"
#include "methods/loss_case.h"
#include "methods/method.h"
#include "methods/options.h"

#include "core/error.h"

namespace cmbench {

namespace {

class EdmMethod : public Method {
 public:
  explicit EdmMethod(const Config& table) {
    OptionReader o(table);
    p_mean_ = o.number("p_mean", -1.2);
    p_std_ = o.number("p_std", 1.2);
    label_dropout_ = o.number("label_dropout", 0.0);
    weighting_ = o.choice("weighting", "edm", {"edm", "uncertainty"});
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
    if (weighting_ == "uncertainty") {
      const auto logvar = nets.student->uncertainty(sigma);
      if (!logvar.defined())
        throw InputError("method.weighting 'uncertainty' needs a network with an uncertainty head (EDM2's logvar_*); "
                         "arch '" + nets.student->arch() + "' has none");
      const auto u = logvar.flatten().to(x0.dtype());
      result.per_sample = weight / u.exp() * squared_norm(denoised - x0) + static_cast<double>(x0[0].numel()) * u;
      result.outputs["logvar"] = u;
    } else {
      result.per_sample = weight * squared_norm(denoised - x0);
    }
    result.outputs["sigma"] = sigma;
    result.outputs["weight"] = weight;
    result.outputs["denoised"] = denoised;
    return result;
  }

 private:
  double p_mean_, p_std_, label_dropout_;
  std::string weighting_;
};

}  // namespace

void translate_edm_case(const LossCase& c, LossCaseInputs& in) { in.draws["sigma"] = c.tensor("sigma"); }

std::unique_ptr<Method> make_edm(const Config& table) { return std::make_unique<EdmMethod>(table); }

}  // namespace cmbench

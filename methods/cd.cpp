// Consistency distillation, CD (METHODS.md §4; openai/consistency_models cm/karras_diffusion.py):
// CT with x_t2 from one Heun step of the teacher's PF-ODE dx/dt = (x - D_teacher(x, t)) / t from t
// to t2. The teacher (an EDM model) runs in eval mode under no-grad. CIFAR-10: N = 18 fixed, mu = 0;
// ImageNet-64: N = 40, mu = 0.95 fixed (openai/consistency_models scripts/launch.sh: start_scales 40,
// target_ema_mode fixed, start_ema 0.95).
#include "methods/consistency.h"
#include "methods/ct.h"

namespace cmbench {

namespace {

class CdMethod : public CtMethod {
 public:
  explicit CdMethod(const Config& table) : CtMethod(table, Defaults{18, 40, 0.0, 0.95}) {}

  std::string name() const override { return "cd"; }
  bool needs_teacher() const override { return true; }
  // The target is the teacher's deterministic ODE step, not a one-sample estimate: nothing to measure here.
  std::optional<TargetPoints> target_points(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                            const torch::Tensor&, const StepContext&) const override {
    return std::nullopt;
  }

 protected:
  torch::Tensor lower_point(const TrainingBatch& /*batch*/, const torch::Tensor& x_t, const torch::Tensor& /*eps*/,
                            const torch::Tensor& t, const torch::Tensor& t2, const torch::Tensor& labels,
                            const Networks& nets) const override {
    Denoiser& teacher = *nets.teacher;
    teacher.eval();
    torch::NoGradGuard no_grad;
    const auto dt = per_image(t2 - t, x_t);
    const auto d = (x_t - teacher.forward(x_t, t, labels)) / per_image(t, x_t);
    const auto x_euler = x_t + dt * d;
    const auto d2 = (x_euler - teacher.forward(x_euler, t2, labels)) / per_image(t2, x_t);
    return (x_t + dt * (d + d2) * 0.5).detach();
  }
};

}  // namespace

// CT's keys plus the teacher: a toy network of its own, stepped by Heun.
void translate_cd_case(const LossCase& c, LossCaseInputs& in) {
  translate_ct_case(c, in);
  const auto& teacher = c.spec().at("teacher");
  in.nets.teacher = c.toy_network(teacher, c.lookup(teacher.at("toy_a"), "teacher.toy_a").item<double>(),
                                  c.lookup(teacher.at("toy_b"), "teacher.toy_b").item<double>());
  if (teacher.value("solver", std::string("heun")) != "heun") c.fail("only the heun teacher solver exists");
}

std::unique_ptr<Method> make_cd(const Config& table) { return std::make_unique<CdMethod>(table); }

}  // namespace cmbench

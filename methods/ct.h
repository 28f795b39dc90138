// Consistency training, CT (METHODS.md §4; Song et al. 2023, openai/consistency_models
// cm/karras_diffusion.py): n ~ U{0..N-2} on the descending Karras grid, student f(x0 + t eps, t),
// target f_minus(x_t2, t2) with x_t2 = x0 + t2 eps, distance d (l2, l1, pseudo_huber or LPIPS:
// methods/consistency.h CmDistance), weight 1. The target network is an EMA of the student with
// rate mu(k) (adaptive schedule), or the student itself when mu = 0.
// CD (cd.cpp) derives from it and replaces x_t2 by one Heun step of a teacher.
#pragma once

#include "methods/consistency.h"
#include "methods/loss_case.h"
#include "methods/method.h"
#include "methods/options.h"

namespace cmbench {

class CtMethod : public Method {
 public:
  explicit CtMethod(const Config& table);

  std::string name() const override { return "ct"; }
  TensorMap draw(const TrainingBatch& batch, const StepContext& ctx) const override;
  LossResult loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& ctx,
                  const Networks& nets) const override;
  bool needs_target_copy() const override { return mu0_ > 0; }
  double target_rate(int64_t step, int64_t total_steps) const override;
  std::string default_sampler() const override { return "cm"; }
  void prepare() const override { distance_.load(); }

  // Target statistics: r is the grid level below t (CT trains at grid levels only); x_r the one-sample point.
  std::optional<TargetPoints> target_points(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                                            const torch::Tensor& references, const StepContext& ctx) const override;

  // The descending grid in use at `step`.
  torch::Tensor grid(int64_t step, int64_t total_steps) const;

 protected:
  // Per-preset defaults (cifar10, imagenet64) of the grid size (0: the adaptive schedule N(k)) and
  // the target EMA rate mu0.
  struct Defaults {
    int64_t grid_points_cifar10, grid_points_imagenet64;
    double mu0_cifar10, mu0_imagenet64;
  };
  CtMethod(const Config& table, Defaults defaults);

  // The lower point of the pair. CT: x0 + t2 eps (the one-sample estimate of the PF-ODE step).
  virtual torch::Tensor lower_point(const TrainingBatch& batch, const torch::Tensor& x_t, const torch::Tensor& eps,
                                    const torch::Tensor& t, const torch::Tensor& t2, const torch::Tensor& labels,
                                    const Networks& nets) const;

  int64_t grid_points_;
  double s0_, s1_, mu0_, sigma_min_, sigma_max_, rho_, label_dropout_;
  CmDistance distance_;
};

// The CM grid's keys of a loss reference case (methods/loss_case.h): grid_points and the drawn
// index (iCT's whole translation); CT and CD add the distance.
void translate_grid_case(const LossCase& c, LossCaseInputs& in);
void translate_ct_case(const LossCase& c, LossCaseInputs& in);

}  // namespace cmbench

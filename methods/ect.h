// ECT, Easy Consistency Tuning (METHODS.md §6; locuslab/ect training/loss.py): continuous
// lognormal t, r from the staged mapping, student D(x_t, t) against the same network's no-grad
// D(x_r, r) with replayed dropout masks; per sample w(t, r) (sqrt(Delta + c^2) - c).
// SCT (sct.cpp) derives from it and replaces the target point.
#pragma once

#include "methods/loss_case.h"
#include "methods/method.h"
#include "methods/options.h"

namespace cmbench {

class EctMethod : public Method {
 public:
  explicit EctMethod(const Config& table);

  std::string name() const override { return "ect"; }
  TensorMap draw(const TrainingBatch& batch, const StepContext& ctx) const override;
  LossResult loss(const TrainingBatch& batch, const TensorMap& draws, const StepContext& ctx,
                  const Networks& nets) const override;
  std::string default_sampler() const override { return "ect"; }
  // Target statistics: r from the staged mapping at ctx's stage, x_r from analysed_point.
  std::optional<TargetPoints> target_points(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                                            const torch::Tensor& references, const StepContext& ctx) const override;

 protected:
  // target_point's x_r for rows with their own x0 and a shared set of further references. ECT: the
  // one-sample point (references unused).
  virtual torch::Tensor analysed_point(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                                       const torch::Tensor& r, const torch::Tensor& references) const;

  EctMethod(const Config& table, OptionReader& reader);  // for subclasses that read more options

  // The point and level of the target pass for x_t = x0 + t eps. ECT: x_r = x0 + r eps. Rows with
  // r == 0 take zero_target instead of a network pass. `labels` are the ones the networks see (zero
  // rows where label dropout removed them). Subclasses may add outputs.
  struct TargetPoint {
    torch::Tensor x_r, zero_target;
  };
  virtual TargetPoint target_point(const TrainingBatch& batch, const torch::Tensor& labels, const torch::Tensor& x_t,
                                   const torch::Tensor& eps, const torch::Tensor& t, const torch::Tensor& r,
                                   TensorMap& outputs) const;

  // The stage exponent of this step: from the images seen (stage_images) or the steps (stage_steps).
  double stage(const StepContext& ctx) const;

  double p_mean_, p_std_, q_, k_, b_, c_, label_dropout_;
  int64_t stage_steps_, stage_images_;  // exactly one is > 0
  bool smooth_stages_;
  std::string weight_;

 private:
  void read_options(OptionReader& reader);
};

// ECT's keys of a loss reference case (methods/loss_case.h): q, k, b, c, the weight formula and t.
void translate_ect_case(const LossCase& c, LossCaseInputs& in);

}  // namespace cmbench

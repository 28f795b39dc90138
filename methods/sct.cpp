// SCT, Stable Consistency Tuning (METHODS.md §7): ECT with a variance-reduced target. The score
// identity grad log p_t(x_t) = E[(x0 - x_t) / t^2 | x_t] is estimated by self-normalized importance
// weights over a reference set of clean images, w_ij = softmax_j(-||x_t_i - x0_j||^2 / (2 t_i^2)),
// and the target point is the PF-ODE Euler step x_r = (r/t) x_t + (1 - r/t) x0_hat.
// No reference code is public; every unverified choice is an option (reference_set, pool_size,
// softmax_dtype, class_restrict, zero_target, smooth_stages, label_dropout).
#include "methods/consistency.h"
#include "methods/ect.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include "core/error.h"

namespace cmbench {

namespace {

class SctMethod : public EctMethod {
 public:
  explicit SctMethod(const Config& table) : SctMethod(table, OptionReader(table)) {}

  std::string name() const override { return "sct"; }
  int64_t reference_pool_size(int64_t batch) const override {
    return reference_set_ == "pool" ? std::max<int64_t>(pool_size_ - batch, 0) : 0;
  }
  bool needs_global_batch() const override { return reference_set_ != "rank_batch"; }
  int64_t target_reference_count(int64_t batch) const override {
    return (reference_set_ == "pool" ? std::max(pool_size_, batch) : batch) - 1;
  }

 protected:
  TargetPoint target_point(const TrainingBatch& batch, const torch::Tensor& labels, const torch::Tensor& x_t,
                           const torch::Tensor& /*eps*/, const torch::Tensor& t, const torch::Tensor& r,
                           TensorMap& outputs) const override {
    const auto& x0 = batch.images;
    // "batch" and "pool" use the whole global batch (world-size independent), "rank_batch" the rank's share.
    const bool global = reference_set_ != "rank_batch" && batch.global_images.defined();
    auto references = global ? batch.global_images.to(x0.dtype()) : x0;
    auto reference_labels = global ? batch.global_labels : batch.labels;
    if (reference_set_ == "pool" && reference_pool_size(references.size(0)) > 0) {
      if (!batch.reference_images.defined())
        throw std::logic_error("sct: reference_set 'pool' needs batch.reference_images from the training loop");
      references = torch::cat({references, batch.reference_images.to(x0.dtype())});
      if (batch.labels.defined())
        reference_labels = torch::cat({reference_labels, batch.reference_labels.to(batch.labels.dtype())});
    }
    // The posterior is precision-critical (x0_hat's error must stay below the consistency gap at small
    // t), so it runs outside the loop's bf16 autocast: float64 or float32 as softmax_dtype says.
    const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const auto weights = posterior_weights(x_t, t, references, labels, reference_labels);
    const auto x0_hat = weights.mm(references.flatten(1).to(weights.dtype())).view_as(x0).to(x0.dtype());
    const auto ratio = per_image(r / t, x0);
    outputs["weights"] = weights;
    outputs["x0_hat"] = x0_hat;
    return {ratio * x_t + (1.0 - ratio) * x0_hat, zero_target_ == "x0" ? x0 : x0_hat};
  }

  // Row i's reference set is {x0_i} + references (shared by the rows): the posterior over it, then the
  // Euler step as in target_point. Class restriction does not apply (analysis of unconditional data).
  torch::Tensor analysed_point(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                               const torch::Tensor& r, const torch::Tensor& references) const override {
    const auto dtype = softmax_dtype_ == "float64" ? torch::kFloat64 : torch::kFloat32;
    const auto own = -(x_t - x0).flatten(1).to(dtype).square().sum(1, true) / (2.0 * t.to(dtype).square().unsqueeze(1));
    auto logits = own;
    if (references.defined() && references.size(0) > 0) logits = torch::cat({own, distance_logits(x_t, t, references, dtype)}, 1);
    const auto weights = softmax_rows(logits);
    auto x0_hat = weights.select(1, 0).unsqueeze(1) * x0.flatten(1).to(dtype);
    if (logits.size(1) > 1) x0_hat = x0_hat + weights.slice(1, 1).mm(references.flatten(1).to(dtype));
    const auto ratio = per_image(r / t, x0);
    return ratio * x_t + (1.0 - ratio) * x0_hat.view_as(x0).to(x0.dtype());
  }

 private:
  // -||x_t_i - x0_j||^2 / (2 t_i^2), the distances from one matrix product (||a||^2 + ||b||^2 - 2 a.b).
  static torch::Tensor distance_logits(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& references,
                                       torch::ScalarType dtype) {
    const auto a = x_t.flatten(1).to(dtype);
    const auto b = references.flatten(1).to(dtype);
    const auto distances =
        (a.square().sum(1, true) + b.square().sum(1).unsqueeze(0) - 2.0 * a.mm(b.t())).clamp_min(0.0);
    return -distances / (2.0 * t.to(dtype).square().unsqueeze(1));
  }
  // Softmax with the row maximum subtracted before exp.
  static torch::Tensor softmax_rows(const torch::Tensor& logits) {
    const auto shifted = (logits - std::get<0>(logits.max(1, true))).exp();
    return shifted / shifted.sum(1, true);
  }

  SctMethod(const Config& table, OptionReader&& reader) : EctMethod(table, reader) {
    reference_set_ = reader.choice("reference_set", reader.by_preset<std::string>("batch", "pool"),
                                   {"batch", "rank_batch", "pool"});
    // ImageNet-64's pool size is this suite's choice (the paper does not state one). pool_size is the
    // whole reference count, the batch included; one no larger than the batch is the batch alone (the
    // sample's own x0 must stay in its reference set, so the batch is never cut).
    pool_size_ = reader.integer("pool_size", reader.by_preset<int64_t>(0, 1024));
    softmax_dtype_ = reader.choice("softmax_dtype", "float64", {"float64", "float32"});
    class_restrict_ = reader.flag("class_restrict", true);
    zero_target_ = reader.choice("zero_target", "x0_hat", {"x0_hat", "x0"});
    resolved_ = reader.finish();
    if (reference_set_ == "pool" && pool_size_ <= 0)
      throw InputError("method.pool_size: reference_set 'pool' needs pool_size > 0 (the total reference count)");
  }

  // softmax_j(-||x_t_i - x0_j||^2 / (2 t_i^2)) with the distances from one matrix product
  // (||a||^2 + ||b||^2 - 2 a.b) and the row maximum subtracted before exp. Row i's own x0 is
  // reference j = i, so every row has at least one admissible reference. Class restriction applies to
  // conditioned rows; a row whose label was dropped (all zero) trains the unconditional model and
  // takes the unconditional posterior over every reference.
  torch::Tensor posterior_weights(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& references,
                                  const torch::Tensor& labels, const torch::Tensor& reference_labels) const {
    const auto dtype = softmax_dtype_ == "float64" ? torch::kFloat64 : torch::kFloat32;
    auto logits = distance_logits(x_t, t, references, dtype);
    if (class_restrict_ && labels.defined()) {
      const auto dropped = (labels.abs().sum(1, true) == 0);
      const auto admitted = (labels.to(dtype).mm(reference_labels.to(dtype).t()) > 0.5).logical_or(dropped);
      logits = logits.masked_fill(admitted.logical_not(), -std::numeric_limits<double>::infinity());
    }
    return softmax_rows(logits);
  }

  std::string reference_set_, softmax_dtype_, zero_target_;
  int64_t pool_size_ = 0;
  bool class_restrict_ = true;
};

}  // namespace

void translate_sct_case(const LossCase& c, LossCaseInputs& in) { translate_ect_case(c, in); in.set_text("reference_set", c.text("reference_set")); }

std::unique_ptr<Method> make_sct(const Config& table) { return std::make_unique<SctMethod>(table); }

}  // namespace cmbench

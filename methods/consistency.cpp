#include "methods/consistency.h"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/rng.h"

namespace cmbench {

torch::Tensor replayed_target_pass(Denoiser& target, const torch::Tensor& x_t, const torch::Tensor& t,
                                   const torch::Tensor& labels, const torch::Tensor& generator_state,
                                   const torch::Device& device) {
  set_generator_state(default_generator(device), generator_state);
  torch::NoGradGuard no_grad;
  // EDM2's forced weight normalization rewrites the weights in place in train mode; when the target
  // is the student itself that would invalidate the student pass's graph. The student pass has just
  // normalized them, so the target's output is the same without it.
  const bool forced = target.forced_weight_norm();
  target.set_forced_weight_norm(false);
  auto out = torch::nan_to_num(target.forward(x_t, t, labels)).detach();
  target.set_forced_weight_norm(forced);
  return out;
}

PairedOutputs paired_passes(Denoiser& student, Denoiser& target, const torch::Tensor& x_s, const torch::Tensor& s,
                            const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& labels) {
  const auto device = x_s.device();
  const auto state = generator_state(default_generator(device));
  PairedOutputs out;
  out.student = student.forward(x_s, s, labels);
  out.target = replayed_target_pass(target, x_t, t, labels, state, device);
  return out;
}

torch::Tensor squared_norm(const torch::Tensor& a) { return a.square().flatten(1).sum(1); }

torch::Tensor mean_squared_distance(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).square().flatten(1).mean(1);
}

torch::Tensor mean_absolute_distance(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().flatten(1).mean(1);
}

torch::Tensor pseudo_huber_distance(const torch::Tensor& a, const torch::Tensor& b, double c) {
  return (squared_norm(a - b) + c * c).sqrt() - c;
}

double ict_huber_c(const torch::Tensor& images) {
  return 0.00054 * std::sqrt(static_cast<double>(images[0].numel()));
}

torch::Tensor cm_distance(const std::string& name, const torch::Tensor& a, const torch::Tensor& b, double huber_c) {
  if (name == "l2") return mean_squared_distance(a, b);
  if (name == "l1") return mean_absolute_distance(a, b);
  if (name == "pseudo_huber") return pseudo_huber_distance(a, b, huber_c > 0 ? huber_c : ict_huber_c(a));
  if (name == "lpips") throw InputError("method.distance 'lpips': needs the LPIPS network of a CmDistance");
  throw InputError("method.distance '" + name + "': expected l2, l1, pseudo_huber or lpips");
}

CmDistance::CmDistance(OptionReader& options, const Config& table) {
  name_ = options.choice("distance", "l2", {"l2", "l1", "pseudo_huber", "lpips"});
  huber_c_ = options.number("huber_c", 0.0);
  if (name_ != "lpips") return;
  const auto protocol = parse_lpips_protocol(
      options.choice("lpips_protocol", "openai-cm", {"openai-cm", "lpips"}), "method.lpips_protocol");
  const char* environment = std::getenv("CMBENCH_LPIPS");
  lpips_weights_ = options.text("lpips_weights", environment ? environment : "");
  lpips_protocol_ = protocol;
  if (lpips_weights_.empty()) {
    throw InputError(table.where() + ": method.lpips_weights: not given and $CMBENCH_LPIPS is unset; " +
                     lpips_weights_help());
  }
}

void CmDistance::load() const {
  if (name_ == "lpips" && !lpips_) lpips_ = load_lpips(lpips_weights_, LpipsOptions().protocol(lpips_protocol_), "method.lpips_weights");
}

torch::Tensor CmDistance::operator()(const torch::Tensor& a, const torch::Tensor& b) const {
  if (name_ != "lpips") return cm_distance(name_, a, b, huber_c_);
  if (a.dim() != 4 || a.size(1) != 3) {
    throw InputError(fmt::format("method.distance 'lpips': needs RGB images (N, 3, H, W), got [{}]",
                                 fmt::join(a.sizes(), ", ")));
  }
  load();
  if (lpips_device_ != a.device()) {
    lpips_->to(a.device());
    lpips_device_ = a.device();
  }
  return lpips_->forward(a, b);
}

torch::Tensor per_image(const torch::Tensor& v, const torch::Tensor& like) {
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = -1;
  return v.reshape(shape);
}

torch::Tensor one_sample_point(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                               const torch::Tensor& r) {
  const auto ratio = per_image(r / t, x0).to(x0.dtype());
  return ratio * x_t + (1.0 - ratio) * x0;
}

torch::Tensor grid_level_below(const torch::Tensor& grid, const torch::Tensor& t) {
  const auto levels = grid.to(t.options()).unsqueeze(0);  // (1, G)
  const auto below = levels < t.unsqueeze(1);
  const auto best = torch::where(below, levels, torch::full_like(levels, -1.0)).amax(1);
  return torch::where(best > 0, best, t);
}

torch::Tensor draw_lognormal(int64_t n, double p_mean, double p_std, torch::Generator generator,
                             const torch::TensorOptions& options) {
  const auto z = torch::randn({n}, generator, options.dtype(torch::kFloat64).device(torch::kCPU));
  return (z * p_std + p_mean).exp().to(options);
}

torch::Tensor draw_normal_like(const torch::Tensor& x, torch::Generator generator) {
  return torch::randn(x.sizes(), generator, x.options().device(torch::kCPU)).to(x.device());
}

std::map<std::string, torch::Tensor> draw_level_and_noise(const torch::Tensor& images, const torch::Tensor& labels,
                                                          const std::string& level_key, double p_mean, double p_std,
                                                          double label_dropout, torch::Generator generator) {
  std::map<std::string, torch::Tensor> d;
  d[level_key] = draw_lognormal(images.size(0), p_mean, p_std, generator, images.options());
  d["eps"] = draw_normal_like(images, generator);
  if (label_dropout > 0 && labels.defined()) d["labels"] = drop_labels(labels, label_dropout, generator);
  return d;
}

torch::Tensor drop_labels(const torch::Tensor& labels, double p, torch::Generator generator) {
  if (!labels.defined() || p <= 0) return labels;
  const auto keep = torch::rand({labels.size(0)}, generator, torch::kFloat64) >= p;
  return labels * per_image(keep, labels).to(labels.options());
}

}  // namespace cmbench


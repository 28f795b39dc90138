#include "harness/optimizers.h"

#include <cmath>
#include <map>

#include "core/error.h"

namespace cmbench {

Optimizer::Optimizer(std::vector<torch::Tensor> params, AdamOptions options)
    : options_(options), params_(std::move(params)) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params_) {
    exp_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    exp_avg_sq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

void Optimizer::step() {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double beta1 = options_.beta1(), beta2 = options_.beta2();
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& param = params_[i];
    if (!param.grad().defined()) continue;
    auto grad = param.grad();
    if (options_.weight_decay() != 0) grad = grad.add(param, options_.weight_decay());
    exp_avg_[i].mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq_[i].mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    apply(param, exp_avg_[i], exp_avg_sq_[i], steps_);
  }
}

void Adam::apply(torch::Tensor& param, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq, int64_t step) {
  const double s = static_cast<double>(step);
  const double bias_correction1 = 1 - std::pow(options_.beta1(), s);
  const double bias_correction2 = 1 - std::pow(options_.beta2(), s);
  const auto denom = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(options_.eps());
  param.addcdiv_(exp_avg, denom, -options_.lr() / bias_correction1);
}

void RAdam::apply(torch::Tensor& param, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq, int64_t step) {
  const double s = static_cast<double>(step);
  const double beta2 = options_.beta2();
  const double bias_correction1 = 1 - std::pow(options_.beta1(), s);
  const double bias_correction2 = 1 - std::pow(beta2, s);
  const auto corrected = exp_avg / bias_correction1;
  const double rho_inf = 2 / (1 - beta2) - 1;
  const double rho_t = rho_inf - 2 * s * std::pow(beta2, s) / bias_correction2;
  // PyTorch rectifies above 5 (the paper says 4); below, the step is plain momentum SGD.
  if (rho_t > 5.0) {
    const double rect =
        std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
    const auto adaptive = std::sqrt(bias_correction2) / exp_avg_sq.sqrt().add_(options_.eps());
    param.add_(corrected * options_.lr() * adaptive * rect, -1.0);
  } else {
    param.add_(corrected * options_.lr(), -1.0);
  }
}

std::vector<std::pair<std::string, torch::Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  out.emplace_back("step", torch::tensor(steps_, torch::kInt64));
  for (size_t i = 0; i < params_.size(); ++i) out.emplace_back("exp_avg." + std::to_string(i), exp_avg_[i]);
  for (size_t i = 0; i < params_.size(); ++i) out.emplace_back("exp_avg_sq." + std::to_string(i), exp_avg_sq_[i]);
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  torch::NoGradGuard no_grad;
  // Matched by name: checkpoint files list groups in their own (sorted) order.
  std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
  const auto mine = this->state();
  for (const auto& [name, tensor] : mine) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw InputError("optimizer state: tensor '" + name + "' missing");
    if (it->second.sizes() != tensor.sizes())
      throw InputError("optimizer state: tensor '" + name + "' has the wrong shape");
  }
  if (by_name.size() != mine.size())
    throw InputError("optimizer state: " + std::to_string(by_name.size()) + " tensors, expected " +
                     std::to_string(mine.size()));
  steps_ = by_name.at("step").item<int64_t>();
  for (size_t i = 0; i < params_.size(); ++i) {
    exp_avg_[i].copy_(by_name.at("exp_avg." + std::to_string(i)));
    exp_avg_sq_[i].copy_(by_name.at("exp_avg_sq." + std::to_string(i)));
  }
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<torch::Tensor> params,
                                          const AdamOptions& options) {
  if (name == "adam") return std::make_unique<Adam>(std::move(params), options);
  if (name == "radam") return std::make_unique<RAdam>(std::move(params), options);
  throw InputError("optimizer '" + name + "': expected adam or radam");
}

double sanitize_and_clip_gradients(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  torch::Tensor squared;
  for (auto& p : params) {
    if (!p.grad().defined()) continue;
    torch::nan_to_num_(p.mutable_grad(), 0.0, 1e5, -1e5);
    const auto term = p.grad().to(torch::kFloat64).square().sum();
    squared = squared.defined() ? squared + term : term;
  }
  const double norm = squared.defined() ? std::sqrt(squared.item<double>()) : 0.0;
  if (max_norm > 0 && norm > max_norm) {
    for (auto& p : params)
      if (p.grad().defined()) p.mutable_grad().mul_(max_norm / (norm + 1e-6));
  }
  return norm;
}

}  // namespace cmbench

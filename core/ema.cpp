#include "core/ema.h"

#include <cmath>

#include "core/error.h"

namespace cmbench {

EmaKind parse_ema_kind(const std::string& name) {
  if (name == "fixed") return EmaKind::fixed;
  if (name == "halflife") return EmaKind::halflife;
  if (name == "power") return EmaKind::power;
  throw InputError("ema kind '" + name + "': expected fixed, halflife or power");
}

std::string ema_kind_name(EmaKind kind) {
  switch (kind) {
    case EmaKind::fixed: return "fixed";
    case EmaKind::halflife: return "halflife";
    case EmaKind::power: return "power";
  }
  return "?";
}

double power_ema_sigma_rel(double gamma) {
  return std::sqrt((gamma + 1) / ((gamma + 2) * (gamma + 2) * (gamma + 3)));
}

double power_ema_gamma(double sigma_rel) {
  if (!(sigma_rel > 0) || !std::isfinite(sigma_rel))
    throw InputError("ema sigma_rel " + std::to_string(sigma_rel) + ": must be a positive number");
  const double t = 1.0 / (sigma_rel * sigma_rel);
  // p(g) = (g + 2)^2 (g + 3) - t (g + 1). p is convex for g > -7/3, so Newton's method started to the
  // right of the largest root decreases monotonically onto it.
  auto p = [t](double g) { return (g + 2) * (g + 2) * (g + 3) - t * (g + 1); };
  auto dp = [t](double g) { return 3 * g * g + 14 * g + 16 - t; };
  double g = std::sqrt(t) + 10.0;
  for (int i = 0; i < 200; ++i) {
    const double step = p(g) / dp(g);
    g -= step;
    if (std::abs(step) <= 1e-15 * std::max(1.0, std::abs(g))) break;
  }
  // sigma_rel must be small enough for an averaging profile (gamma > 0: weights grow with time).
  if (!(g > 0) || std::abs(power_ema_sigma_rel(g) - sigma_rel) > 1e-9 * sigma_rel)
    throw InputError("ema sigma_rel " + std::to_string(sigma_rel) + ": too large for a power-function EMA (max ~0.28)");
  return g;
}

double ema_beta(const EmaOptions& options, int64_t images_before, int64_t batch) {
  switch (options.kind()) {
    case EmaKind::fixed:
      return options.beta();
    case EmaKind::halflife: {
      double halflife = options.halflife_images();
      if (options.rampup_ratio() > 0)
        halflife = std::min(halflife, static_cast<double>(images_before) * options.rampup_ratio());
      return std::pow(0.5, static_cast<double>(batch) / std::max(halflife, 1e-8));
    }
    case EmaKind::power: {
      const double gamma = power_ema_gamma(options.sigma_rel());
      const double images_after = static_cast<double>(images_before + batch);
      return std::pow(1.0 - static_cast<double>(batch) / images_after, gamma + 1);
    }
  }
  return 0;
}

Ema::Ema(std::string name, EmaOptions options, const Named& source) : name_(std::move(name)), options_(options) {
  if (options_.kind() == EmaKind::power) power_ema_gamma(options_.sigma_rel());  // validate early
  torch::NoGradGuard no_grad;
  shadow_.reserve(source.size());
  for (const auto& [key, tensor] : source) shadow_.emplace_back(key, tensor.detach().clone());
}

double Ema::update(const Named& source, int64_t images_before, int64_t batch) {
  if (source.size() != shadow_.size())
    throw std::logic_error("ema '" + name_ + "': tracked tensor count changed");
  const double beta = ema_beta(options_, images_before, batch);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < shadow_.size(); ++i) {
    auto& shadow = shadow_[i].second;
    const auto& value = source[i].second;
    if (shadow.is_floating_point()) {
      // lerp(value, shadow, beta) = value + beta * (shadow - value), as EDM's p_net.lerp(p_ema, beta).
      shadow.copy_(value.detach().lerp(shadow, beta));
    } else {
      shadow.copy_(value);
    }
  }
  return beta;
}

}  // namespace cmbench

// Exponential moving averages of network weights for evaluation (METHODS.md §3, §6, §10):
// a fixed per-step beta, EDM's half-life with its ramp-up, and EDM2's power-function EMA.
// Several profiles can run at once; each is stored as its own checkpoint group (DESIGN.md).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cmbench {

enum class EmaKind { fixed, halflife, power };

EmaKind parse_ema_kind(const std::string& name);  // "fixed" | "halflife" | "power"; InputError otherwise
std::string ema_kind_name(EmaKind kind);

struct EmaOptions {
  TORCH_ARG(EmaKind, kind) = EmaKind::fixed;
  TORCH_ARG(double, beta) = 0.9999;               // fixed
  TORCH_ARG(double, halflife_images) = 500000.0;  // halflife: EDM's 0.5 Mimg
  TORCH_ARG(double, rampup_ratio) = 0.05;         // halflife: <= 0 turns the ramp-up off
  TORCH_ARG(double, sigma_rel) = 0.05;            // power: EDM2's relative standard deviation
};

// Per-step decay for a step that trains on `batch` images, `images_before` having been seen before
// it. The half-life rule counts images before the step (EDM), the power rule after it (EDM2).
double ema_beta(const EmaOptions& options, int64_t images_before, int64_t batch);

// EDM2's exponent gamma for a relative standard deviation: the largest real root of
// gamma^3 + 7 gamma^2 + (16 - 1/sigma_rel^2) gamma + (12 - 1/sigma_rel^2) = 0.
double power_ema_gamma(double sigma_rel);
// The inverse map: sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3))).
double power_ema_sigma_rel(double gamma);

// One profile: shadow copies of the tracked tensors (parameters and buffers, by name).
class Ema {
 public:
  using Named = std::vector<std::pair<std::string, torch::Tensor>>;

  Ema(std::string name, EmaOptions options, const Named& source);

  // shadow = beta * shadow + (1 - beta) * source for floating tensors; other tensors are copied.
  // Returns the beta used.
  double update(const Named& source, int64_t images_before, int64_t batch);

  const std::string& name() const { return name_; }
  const EmaOptions& options() const { return options_; }
  const Named& tensors() const { return shadow_; }
  Named& tensors() { return shadow_; }  // for loading from a checkpoint (copy into these)

 private:
  std::string name_;
  EmaOptions options_;
  Named shadow_;
};

}  // namespace cmbench

// Preconditioning (METHODS.md §1): f(x, s) = c_skip(s) x + c_out(s) F(c_in(s) x, c_noise(s)).
// Two forms: EDM's, and the consistency-model boundary form with eps_b (f(x, eps_b) = x). Training
// and evaluation may use different forms (ECT CIFAR-10: EDM in training, CM eps_b 0.003 in eval).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.h"

namespace cmbench {

enum class PrecondForm { edm, cm };

struct PrecondMode {
  PrecondForm form = PrecondForm::edm;
  double eps_b = 0.002;  // boundary of the CM form; unused by the EDM form
};

struct PrecondConfig {
  PrecondMode train;
  PrecondMode eval;
  double sigma_data = 0.5;
  // c_noise = c_noise_scale * ln(sigma): 0.25 (EDM, CM, ECT); 250 for openai ADM checkpoints.
  double c_noise_scale = 0.25;
  const PrecondMode& mode(bool training) const { return training ? train : eval; }
};

PrecondForm parse_precond_form(const std::string& name);  // "edm" | "cm"; InputError otherwise
std::string precond_form_name(PrecondForm form);

// The `precond` table of a config: {train = {form, eps_b}, eval = {form, eps_b}, sigma_data,
// c_noise_scale}; missing keys keep the defaults above (EDM form in both modes, sigma_data 0.5).
PrecondConfig parse_precond_config(const Config& table);
// The checkpoint's `precond` object: {"train": {"form", "eps_b"}, "eval": {...}, "sigma_data", "c_noise_scale"}.
nlohmann::json precond_to_json(const PrecondConfig& precond);
PrecondConfig precond_from_json(const nlohmann::json& object);  // InputError naming the bad key

struct PrecondCoefficients {
  torch::Tensor c_skip, c_out, c_in, c_noise;  // same shape and dtype as sigma
};

// Coefficients at `sigma` (any shape; sigma must be > 0 for c_noise to be finite).
PrecondCoefficients precond_coefficients(const PrecondMode& mode, double sigma_data, double c_noise_scale,
                                         const torch::Tensor& sigma);

// The raw network F(c_in * x, c_noise): x (N, C, H, W), c_noise (N,).
using RawNetwork = std::function<torch::Tensor(const torch::Tensor& scaled_x, const torch::Tensor& c_noise)>;

// D(x, sigma) with sigma of shape (N,). Rows with sigma == 0 return x exactly: the network sees a
// finite stand-in level there (sigma 1) and its output is discarded, which keeps ln(0) = -inf out of
// the network without a host-device sync. Output dtype follows x.
torch::Tensor precondition(const PrecondMode& mode, double sigma_data, double c_noise_scale, const RawNetwork& network,
                           const torch::Tensor& x, const torch::Tensor& sigma);

}  // namespace cmbench

// Noise-level grids and training schedules of METHODS.md §2 and §4-§6. All in float64.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace cmbench {

// Karras grid of `points` levels, descending from sigma_max to sigma_min (METHODS.md §2).
torch::Tensor karras_sigmas(int64_t points, double sigma_min = 0.002, double sigma_max = 80.0, double rho = 7.0);

// iCT's discretized lognormal over an ascending grid: p(i) for the interval (s_i, s_{i+1}),
// proportional to erf((ln s_{i+1} - P_mean)/(sqrt 2 P_std)) - erf((ln s_i - P_mean)/(sqrt 2 P_std)).
torch::Tensor discretized_lognormal(const torch::Tensor& ascending_sigmas, double p_mean, double p_std);

// iCT curriculum: N(k) = min(s0 * 2^floor(k/K'), s1) + 1 grid points, K' = floor(K / (log2 floor(s1/s0) + 1)).
int64_t ict_grid_points(int64_t step, int64_t total_steps, int64_t s0 = 10, int64_t s1 = 1280);

// CM "adaptive" schedule: M(k) = max(ceil(sqrt(k/K ((s1+1)^2 - s0^2) + s0^2) - 1), 1); N = M + 1 points.
int64_t cm_grid_points(int64_t step, int64_t total_steps, double s0 = 2, double s1 = 150);
// Target EMA rate mu(k) = exp(s0 ln(mu0) / M(k)).
double cm_target_rate(int64_t step, int64_t total_steps, double s0 = 2, double s1 = 150, double mu0 = 0.9);

// ECT: the stage exponent floor(progress / stage_length) (or the ratio when smooth), progress and length
// both in steps or both in images; r = max(0, t (1 - n(t) / q^(stage + 1))) with n(t) = 1 + k sigmoid(-b t).
// r keeps t's dtype.
double ect_stage(int64_t progress, int64_t stage_length, bool smooth = false);
torch::Tensor ect_r(const torch::Tensor& t, double stage, double q = 2.0, double k = 8.0, double b = 1.0);
// t - r of ect_r, min(t, t n(t) / q^(stage + 1)), without the subtraction: in float32, r rounds to t
// after about 26 stages with q = 2 and t - r would be 0 (ECT's 1/(t - r) weight inf).
torch::Tensor ect_gap(const torch::Tensor& t, double stage, double q = 2.0, double k = 8.0, double b = 1.0);

}  // namespace cmbench

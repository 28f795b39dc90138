#include "methods/schedules.h"

#include <cmath>

#include "core/error.h"

namespace cmbench {

torch::Tensor karras_sigmas(int64_t points, double sigma_min, double sigma_max, double rho) {
  if (points < 2) throw InputError("karras grid: needs at least 2 points, got " + std::to_string(points));
  const auto i = torch::arange(points, torch::kFloat64);
  const double a = std::pow(sigma_max, 1.0 / rho), b = std::pow(sigma_min, 1.0 / rho);
  return (a + i / static_cast<double>(points - 1) * (b - a)).pow(rho);
}

torch::Tensor discretized_lognormal(const torch::Tensor& ascending_sigmas, double p_mean, double p_std) {
  const auto s = ascending_sigmas.to(torch::kFloat64);
  const auto cdf = torch::erf((s.log() - p_mean) / (std::sqrt(2.0) * p_std));
  const auto mass = cdf.slice(0, 1) - cdf.slice(0, 0, -1);
  return mass / mass.sum();
}

int64_t ict_grid_points(int64_t step, int64_t total_steps, int64_t s0, int64_t s1) {
  if (s0 < 1 || s1 < s0) throw InputError("ict curriculum: needs 1 <= s0 <= s1");
  const double levels = std::log2(std::floor(static_cast<double>(s1) / static_cast<double>(s0))) + 1;
  const int64_t steps_per_level = std::max<int64_t>(static_cast<int64_t>(std::floor(total_steps / levels)), 1);
  const int64_t level = step / steps_per_level;
  // Saturates at s1 long before 2^level could overflow.
  const int64_t scales = level >= 62 ? s1 : std::min<int64_t>(s0 << std::min<int64_t>(level, 40), s1);
  return scales + 1;
}

namespace {
int64_t cm_intervals(int64_t step, int64_t total_steps, double s0, double s1) {
  const double k = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(total_steps, 1));
  const double m = std::ceil(std::sqrt(k * ((s1 + 1) * (s1 + 1) - s0 * s0) + s0 * s0) - 1);
  return std::max<int64_t>(static_cast<int64_t>(m), 1);
}
}  // namespace

int64_t cm_grid_points(int64_t step, int64_t total_steps, double s0, double s1) {
  return cm_intervals(step, total_steps, s0, s1) + 1;
}

double cm_target_rate(int64_t step, int64_t total_steps, double s0, double s1, double mu0) {
  return std::exp(s0 * std::log(mu0) / static_cast<double>(cm_intervals(step, total_steps, s0, s1)));
}

double ect_stage(int64_t progress, int64_t stage_length, bool smooth) {
  if (stage_length <= 0) throw InputError("ect: the stage length must be > 0");
  if (smooth) return static_cast<double>(progress) / static_cast<double>(stage_length);
  return static_cast<double>(progress / stage_length);
}

torch::Tensor ect_r(const torch::Tensor& t, double stage, double q, double k, double b) {
  const auto n = 1.0 + k * torch::sigmoid(-b * t);
  return (t * (1.0 - n / std::pow(q, stage + 1.0))).clamp_min(0.0);
}

torch::Tensor ect_gap(const torch::Tensor& t, double stage, double q, double k, double b) {
  const auto n = 1.0 + k * torch::sigmoid(-b * t);
  return t * (n / std::pow(q, stage + 1.0)).clamp_max(1.0);
}

}  // namespace cmbench

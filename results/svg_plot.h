// A training-loss curve as inline SVG (log-scale loss when every value is positive).
#pragma once

#include <string>
#include <vector>

#include "results/records.h"

namespace cmbench::results {

std::string loss_curve_svg(const std::vector<TrainingPoint>& curve, int width = 480, int height = 240);

}  // namespace cmbench::results

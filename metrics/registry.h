// The metrics by name (`cmbench fid|is|swd`, a suite's [metrics.NAME] tables name their outputs).
// A new metric is one file defining a Metric plus one line in metrics/registry.cpp; a metric that
// reads a new kind of feature also teaches metrics/image_set_features.cpp to compute it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "metrics/metric.h"

namespace cmbench {

using MetricRegistry = Registry<Metric>;

const MetricRegistry& metric_registry();

// The registered metric yielding the value `output` (is_std -> is), "" when none does.
std::string metric_of_output(const std::string& output);
// Every value any registered metric yields (fid, is_mean, is_std, swd, ...).
std::vector<std::string> metric_output_names();

}  // namespace cmbench

// Line charts as inline SVG for the self-contained HTML pages (`cmbench table --format html`,
// `cmbench report`): a title, axes with ticks and labels, one coloured polyline per series with a
// legend. Each chart is <svg class="plot" data-metric=... data-kind=...> so tests and scripts find
// it. The output depends only on the input (fixed precision, no timestamps).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "results/records.h"

namespace cmbench::results {

enum class Scale {
  linear,
  log,        // non-positive values are left out
  automatic,  // log when every value is positive and they span more than 10x, else linear
};

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite values are left out
};

struct LineChart {
  std::string title, x_label, y_label;
  std::string metric;  // data-metric
  std::string kind;    // data-kind: what x is ("images", "nfe", "t", "step")
  std::vector<std::pair<std::string, std::string>> attributes;  // more data-* attributes (name, value)
  Scale x_scale = Scale::linear, y_scale = Scale::automatic;
  std::vector<PlotSeries> series;
  int width = 540, height = 300;
};

std::string line_chart_svg(const LineChart& chart);

// The training loss against the step (log loss when every value is positive).
std::string loss_curve_svg(const std::vector<TrainingPoint>& curve, int width = 540, int height = 260);

// Text for HTML and SVG: & < > " ' as entities.
std::string markup_escape(const std::string& text);

}  // namespace cmbench::results

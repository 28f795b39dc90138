#include "results/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace cmbench::results {

namespace {

// Tableau's 10 categorical colours (matplotlib's default cycle), told apart also in print; series
// beyond ten repeat them dashed.
constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr size_t kColourCount = sizeof(kColours) / sizeof(kColours[0]);
constexpr size_t kMostMarkers = 60;  // points per series drawn as dots too (long curves: the line only)

bool usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

bool resolve_log(Scale scale, const std::vector<double>& values) {
  if (scale != Scale::automatic) return scale == Scale::log;
  if (values.empty()) return false;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const double v : values) {
    if (!(v > 0)) return false;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return hi > 10 * lo;
}

// The smallest of 1, 2, 5 x 10^k at least span / target.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw * (1 - 1e-9)) return m * magnitude;
  }
  return 10 * magnitude;
}

// One axis: the values' range in axis units (log10 of the value on a log axis) and its ticks.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  std::vector<double> ticks;  // values, not axis units
  double fraction(double v) const { return ((log ? std::log10(v) : v) - lo) / (hi - lo); }
};

Axis make_axis(const std::vector<double>& values, bool log) {
  Axis axis;
  axis.log = log;
  double lo = 0, hi = 1;
  if (!values.empty()) {
    lo = *std::min_element(values.begin(), values.end());
    hi = *std::max_element(values.begin(), values.end());
  } else if (log) {
    hi = 10;
  }
  if (log) {
    const double e0 = std::floor(std::log10(lo));
    const double e1 = std::max(std::ceil(std::log10(hi)), e0 + 1);
    axis.lo = e0;
    axis.hi = e1;
    const double stride = std::max(1.0, std::ceil((e1 - e0) / 6));
    for (double e = e0; e <= e1 + 1e-9; e += stride) axis.ticks.push_back(std::pow(10.0, e));
    if (e1 - e0 == 1) axis.ticks = {std::pow(10.0, e0), 2 * std::pow(10.0, e0), 5 * std::pow(10.0, e0), std::pow(10.0, e1)};
    return axis;
  }
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, 5);
  axis.lo = std::floor(lo / step) * step;
  axis.hi = std::ceil(hi / step) * step;
  for (int i = 0;; ++i) {
    const double t = axis.lo + i * step;
    if (t > axis.hi + step * 1e-9) break;
    axis.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return axis;
}

std::string tick_label(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:.3g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:.3g}k", v / 1e3);
  return fmt::format("{:.3g}", v);
}

}  // namespace

std::string markup_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string line_chart_svg(const LineChart& chart) {
  std::vector<double> xs, ys;
  for (const auto& s : chart.series) {
    for (const auto& [x, y] : s.points) {
      if (std::isfinite(x) && std::isfinite(y)) {
        xs.push_back(x);
        ys.push_back(y);
      }
    }
  }
  const bool log_x = resolve_log(chart.x_scale, xs), log_y = resolve_log(chart.y_scale, ys);
  // The points each axis can show (a log axis leaves out values <= 0).
  std::vector<PlotSeries> shown;
  xs.clear();
  ys.clear();
  for (const auto& s : chart.series) {
    PlotSeries kept{s.name, {}};
    for (const auto& [x, y] : s.points) {
      if (!usable(x, log_x) || !usable(y, log_y)) continue;
      kept.points.push_back({x, y});
      xs.push_back(x);
      ys.push_back(y);
    }
    shown.push_back(std::move(kept));
  }
  const Axis x_axis = make_axis(xs, log_x), y_axis = make_axis(ys, log_y);

  const bool legend = !shown.empty();
  const double width = chart.width, height = chart.height;
  const double left = 64, right = legend ? 160 : 16, top = 32, bottom = 46;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  const auto px = [&](double x) { return left + x_axis.fraction(x) * plot_w; };
  const auto py = [&](double y) { return top + (1 - y_axis.fraction(y)) * plot_h; };

  std::string out = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" data-metric=\"{}\" data-kind=\"{}\"",
                                markup_escape(chart.metric), markup_escape(chart.kind));
  for (const auto& [name, value] : chart.attributes) {
    out += fmt::format(" data-{}=\"{}\"", markup_escape(name), markup_escape(value));
  }
  out += fmt::format(" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n", chart.width,
                     chart.height, chart.width, chart.height, markup_escape(chart.title));
  out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n", chart.width, chart.height);
  out += fmt::format("<text x=\"{:.1f}\" y=\"18\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>\n",
                     left + plot_w / 2, markup_escape(chart.title));
  for (const double t : y_axis.ticks) {
    const double y = py(t);
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e4e4e4\"/>", left, y,
                       left + plot_w, y);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\">{}</text>\n", left - 5, y + 3.5,
                       tick_label(t));
  }
  for (const double t : x_axis.ticks) {
    const double x = px(t);
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e4e4e4\"/>", x, top, x,
                       top + plot_h + 4);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"middle\">{}</text>\n", x,
                       top + plot_h + 15, tick_label(t));
  }
  out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"#888\"/>\n",
                     left, top, plot_w, plot_h);
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\">{}{}</text>\n",
                     left + plot_w / 2, height - 10, markup_escape(chart.x_label), log_x ? " (log scale)" : "");
  out += fmt::format("<text transform=\"translate(14,{:.1f}) rotate(-90)\" font-size=\"11\" text-anchor=\"middle\">{}{}</text>\n",
                     top + plot_h / 2, markup_escape(chart.y_label), log_y ? " (log scale)" : "");
  if (xs.empty()) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" text-anchor=\"middle\">no values to plot</text>\n",
                       left + plot_w / 2, top + plot_h / 2);
  }
  for (size_t i = 0; i < shown.size(); ++i) {
    const auto& s = shown[i];
    const char* colour = kColours[i % kColourCount];
    const std::string dash = i >= kColourCount ? " stroke-dasharray=\"5,3\"" : "";
    out += fmt::format("<g class=\"series\" data-series=\"{}\">", markup_escape(s.name));
    if (s.points.size() >= 2) {
      std::string points;
      for (const auto& [x, y] : s.points) points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(x), py(y));
      out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{} points=\"{}\"/>", colour, dash,
                         points);
    }
    if (s.points.size() <= kMostMarkers) {
      for (const auto& [x, y] : s.points) {
        out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.8\" fill=\"{}\"/>", px(x), py(y), colour);
      }
    }
    out += "</g>\n";
    const double ly = top + 10 + 16.0 * static_cast<double>(i), lx = left + plot_w + 12;
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2.5\"{}/>",
                       lx, ly, lx + 18, ly, colour, dash);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", lx + 24, ly + 4,
                       markup_escape(s.name));
  }
  out += "</svg>\n";
  return out;
}

std::string loss_curve_svg(const std::vector<TrainingPoint>& curve, int width, int height) {
  PlotSeries loss{"loss", {}};
  bool positive = true;
  for (const auto& p : curve) {
    if (!std::isfinite(p.loss)) continue;
    loss.points.push_back({static_cast<double>(p.step), p.loss});
    positive = positive && p.loss > 0;
  }
  LineChart chart;
  chart.title = "Training loss";
  chart.x_label = "step";
  chart.y_label = "loss";
  chart.metric = "loss";
  chart.kind = "step";
  chart.y_scale = positive ? Scale::log : Scale::linear;
  if (!loss.points.empty()) chart.series.push_back(std::move(loss));
  chart.width = width;
  chart.height = height;
  return line_chart_svg(chart);
}

}  // namespace cmbench::results

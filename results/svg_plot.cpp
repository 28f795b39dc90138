#include "results/svg_plot.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace cmbench::results {

std::string loss_curve_svg(const std::vector<TrainingPoint>& curve, int width, int height) {
  const double left = 56, right = 12, top = 12, bottom = 32;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"training loss\">\n",
      width, height, width, height);
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", left, top,
                     plot_w, plot_h);
  std::vector<const TrainingPoint*> points;
  for (const auto& p : curve) {
    if (std::isfinite(p.loss)) points.push_back(&p);
  }
  if (points.empty()) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\">no training curve</text>\n</svg>\n", left + 8,
                       top + plot_h / 2);
    return out;
  }
  const bool log_scale = std::all_of(points.begin(), points.end(), [](const TrainingPoint* p) { return p->loss > 0; });
  const auto y_of = [&](double loss) { return log_scale ? std::log10(loss) : loss; };
  double x0 = static_cast<double>(points.front()->step), x1 = x0, y0 = y_of(points.front()->loss), y1 = y0;
  for (const auto* p : points) {
    x0 = std::min(x0, static_cast<double>(p->step));
    x1 = std::max(x1, static_cast<double>(p->step));
    y0 = std::min(y0, y_of(p->loss));
    y1 = std::max(y1, y_of(p->loss));
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  std::string path;
  for (const auto* p : points) {
    const double x = left + (static_cast<double>(p->step) - x0) / (x1 - x0) * plot_w;
    const double y = top + (1 - (y_of(p->loss) - y0) / (y1 - y0)) * plot_h;
    path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "" : " ", x, y);
  }
  out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"" + path + "\"/>\n";
  const auto label = [&](double v) { return fmt::format("{:.3g}", log_scale ? std::pow(10.0, v) : v); };
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", left - 4, top + 10, label(y1));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", left - 4, top + plot_h,
                     label(y0));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>\n", left, height - 16, static_cast<int64_t>(x0));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", left + plot_w,
                     height - 16, static_cast<int64_t>(x1));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">step{}</text>\n",
                     left + plot_w / 2, height - 4, log_scale ? " (loss on a log scale)" : "");
  out += "</svg>\n";
  return out;
}

}  // namespace cmbench::results

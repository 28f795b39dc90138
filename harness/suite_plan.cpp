#include "harness/suite_plan.h"

#include <fmt/format.h>

namespace cmbench {

namespace {

std::string count(int64_t n) {
  const double v = static_cast<double>(n);
  if (n < 10000) return fmt::format("{}", n);
  if (n < 1000000) return fmt::format("{:.1f}k", v / 1e3);
  if (n < 1000000000) return fmt::format("{:.1f}M", v / 1e6);
  return fmt::format("{:.1f}G", v / 1e9);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

}  // namespace

std::string describe_plan(const Suite& suite, const std::string& out_dir) {
  const auto& e = suite.evaluation;
  std::string out = fmt::format("suite {} ({})\n", suite.name, suite.path);
  if (!suite.description.empty()) out += suite.description + "\n";
  out += fmt::format("dataset {}; network {}; output {}\n", suite.dataset(),
                     suite.base.has("net.preset") ? suite.base.get<std::string>("net.preset") : std::string("(custom)"),
                     out_dir);
  std::string metrics;
  for (const auto& m : suite.record.metrics) metrics += (metrics.empty() ? "" : ", ") + m.metric;
  out += fmt::format("evaluation: {} samples x {} seed set(s) per NFE; metrics {}\n\n", e.num_samples, e.seed_sets.size(),
                     metrics);
  out += fmt::format("{:<3} {:<12} {:<6} {:<20} {:>10} {:>6} {:>12} {:<12} {:>14} {:>12}\n", "#", "stage", "method",
                     "after", "steps", "batch", "train img", "NFE", "sample img", "net evals");
  int64_t total_steps = 0, total_train = 0, total_samples = 0, total_evals = 0;
  for (size_t i = 0; i < suite.stages.size(); ++i) {
    const auto& s = suite.stages[i];
    const int64_t images = s.steps * s.batch;
    const int64_t samples = e.num_samples * static_cast<int64_t>(e.seed_sets.size()) * static_cast<int64_t>(s.nfe.size());
    int64_t evals = 0;
    std::string nfes;
    for (const int64_t n : s.nfe) {
      evals += n * e.num_samples * static_cast<int64_t>(e.seed_sets.size());
      if (!nfes.empty()) nfes += ',';
      nfes += std::to_string(n);
    }
    out += fmt::format("{:<3} {:<12} {:<6} {:<20} {:>10} {:>6} {:>12} {:<12} {:>14} {:>12}\n", i + 1, s.name, s.method,
                       joined(s.depends), s.steps, s.batch, count(images), nfes, count(samples), count(evals));
    total_steps += s.steps;
    total_train += images;
    total_samples += samples;
    total_evals += evals;
  }
  out += fmt::format("\ntotal: {} training steps, {} training images, {} generated samples, {} sampling network evaluations\n",
                     total_steps, count(total_train), count(total_samples), count(total_evals));
  if (!suite.record.references.empty()) {
    out += fmt::format("{} published reference row(s) stored beside the results\n", suite.record.references.size());
  }
  return out;
}

}  // namespace cmbench

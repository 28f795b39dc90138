#include "harness/run_folder.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace fs = std::filesystem;

std::string RunFolder::checkpoint(int64_t step) const {
  return (fs::path(path_) / fmt::format("ckpt-{:08d}.h5", step)).string();
}

std::string RunFolder::latest_checkpoint() const {
  static const std::regex pattern("ckpt-([0-9]+)\\.h5");
  std::string best;
  int64_t best_step = -1;
  if (!fs::is_directory(path_)) return best;
  for (const auto& entry : fs::directory_iterator(path_)) {
    std::smatch m;
    const auto name = entry.path().filename().string();
    if (std::regex_match(name, m, pattern) && std::stoll(m[1]) > best_step) {
      best_step = std::stoll(m[1]);
      best = entry.path().string();
    }
  }
  return best;
}

std::string RunFolder::training_log() const { return (fs::path(path_) / "training_log.csv").string(); }

std::string RunFolder::samples(int64_t nfe, const std::string& seed_set, const std::string& profile) const {
  const std::string of = profile.empty() ? "" : "ema-" + profile + "-";
  return (fs::path(path_) / fmt::format("samples-{}nfe{}-seeds{}.npz", of, nfe, seed_set)).string();
}

std::string RunFolder::posthoc_ema() const { return (fs::path(path_) / "posthoc-ema.h5").string(); }

RunFolder RunFolder::curve(int64_t step) const { return RunFolder((fs::path(path_) / fmt::format("curve-{:08d}", step)).string()); }

std::string RunFolder::grid(int64_t nfe) const { return (fs::path(path_) / fmt::format("grid-nfe{}.png", nfe)).string(); }

std::string training_log_line(const results::TrainingPoint& p) {
  char line[256];
  std::snprintf(line, sizeof(line), "%lld,%.9g,%.9g,%.9g,%.3f", static_cast<long long>(p.step), p.loss, p.grad_norm, p.lr,
                p.images_per_second);
  return line;
}

results::TrainingPoint parse_training_log_line(const std::string& line, const std::string& path) {
  // strtod, not iostreams: a logged "inf" grad norm reads back as what it was.
  std::vector<double> values;
  std::istringstream fields(line);
  std::string field;
  bool ok = true;
  while (ok && std::getline(fields, field, ',')) {
    char* end = nullptr;
    values.push_back(std::strtod(field.c_str(), &end));
    ok = !field.empty() && end == field.c_str() + field.size();
  }
  if (!ok || values.size() != 5) {
    throw InputError(fmt::format("{}: malformed training log row '{}' (expected {})", path, line, kTrainingLogHeader));
  }
  results::TrainingPoint p;
  p.step = static_cast<int64_t>(values[0]);
  p.loss = values[1];
  p.grad_norm = values[2];
  p.lr = values[3];
  p.images_per_second = values[4];
  return p;
}

}  // namespace cmbench

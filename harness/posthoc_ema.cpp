#include "harness/posthoc_ema.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/ema.h"
#include "core/error.h"
#include "core/hdf5.h"
#include "core/log.h"
#include "core/progress.h"

namespace cmbench {

namespace fs = std::filesystem;

namespace {

// A condition number beyond 1/eps is a numerically singular matrix in float64 (a repeated or nearly
// repeated snapshot). EDM2's solve has no check; real runs (4 stds x 100 snapshots) reach ~6e14, so the
// bound rejects only what LAPACK could not solve meaningfully.
constexpr double kMaxCondition = 1.0 / std::numeric_limits<double>::epsilon();

double gamma_of(double sigma_rel, const std::string& context) {
  try {
    return power_ema_gamma(sigma_rel);
  } catch (const InputError& e) {
    throw InputError(context + ": " + e.what());
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(shape[i]);
  }
  out += ']';
  return out;
}

using TensorShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// What the solve and the checks need from one checkpoint, without its tensors.
struct SnapshotFile {
  std::string path;
  nlohmann::json net;  // the config's network, compared across files
  int64_t images = 0;
  std::vector<std::pair<std::string, double>> power_groups;  // group, sigma_rel
  std::map<std::string, TensorShapes> shapes;                 // per power group
};

// The power profiles the trainer stored (harness/train_plan.cpp read_ema_plans: [ema.<id>] with `name`
// defaulting to the id, `kind` to fixed and `sigma_rel` to EmaOptions'), and their groups.
std::vector<std::pair<std::string, double>> stored_power_profiles(const nlohmann::json& config, const std::string& path) {
  std::vector<std::pair<std::string, double>> out;
  if (!config.contains("ema")) return out;
  const auto& table = config.at("ema");
  if (!table.is_object()) throw InputError(path + ": config 'ema' is not a table");
  for (const auto& [id, entry] : table.items()) {
    if (!entry.is_object()) throw InputError(path + ": config 'ema." + id + "' is not a table");
    try {
      if (parse_ema_kind(entry.value("kind", std::string("fixed"))) != EmaKind::power) continue;
      const auto name = entry.value("name", id);
      out.emplace_back(name == "ema" ? "ema" : "ema." + name, entry.value("sigma_rel", EmaOptions().sigma_rel()));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(path + ": config 'ema." + id + "': " + e.what());
    } catch (const InputError& e) {
      throw InputError(path + ": config 'ema." + id + "': " + e.what());
    }
  }
  return out;
}

SnapshotFile read_snapshot_file(const std::string& path) {
  SnapshotFile f;
  f.path = path;
  const h5::ReadDeadline deadline(path);
  auto file = h5::open_read(path);
  try {
    if (h5::has_attribute(file, "format") && h5::get_string_attribute(file, "format") != kCheckpointFormat)
      throw InputError(path + ": checkpoint format is not " + kCheckpointFormat);
    if (!h5::has_attribute(file, "config") || !h5::has_attribute(file, "step"))
      throw InputError(path + ": not a training checkpoint (no 'config' or 'step' attribute)");
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(h5::get_string_attribute(file, "config"));
      f.net = config.value("net", nlohmann::json());
      f.images = h5::get_int_attribute(file, "step") * config.at("train").at("batch").get<int64_t>();
    } catch (const nlohmann::json::exception& e) {
      throw InputError(path + ": config has no usable train.batch: " + e.what());
    }
    const auto present = h5::child_names(file);
    for (const auto& [group, sigma_rel] : stored_power_profiles(config, path)) {
      if (std::find(present.begin(), present.end(), group) == present.end())
        throw InputError(path + ": config names power EMA profile '/" + group + "' but the file has no such group");
      gamma_of(sigma_rel, path + ":/" + group);
      f.power_groups.emplace_back(group, sigma_rel);
      const auto g = file.openGroup(group);
      auto& shapes = f.shapes[group];
      for (const auto& name : h5::child_names(g)) shapes.emplace_back(name, h5::dataset_shape(g, name));
    }
  } catch (const H5::Exception& e) {
    throw InputError(path + ": unreadable checkpoint: " + e.getDetailMsg());
  }
  return f;
}

void check_same_network(const SnapshotFile& first, const std::string& first_group, const SnapshotFile& other,
                        const std::string& group) {
  const auto where = other.path + ":/" + group;
  const auto reference = first.path + ":/" + first_group;
  if (other.net != first.net) throw InputError(where + ": network config differs from " + reference + "'s");
  const auto& a = first.shapes.at(first_group);
  const auto& b = other.shapes.at(group);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i >= a.size() || i >= b.size() || a[i].first != b[i].first)
      throw InputError(where + ": tensor '" + (i < b.size() ? b[i].first : a[i].first) + "' is not in both it and " +
                       reference);
    if (a[i].second != b[i].second)
      throw InputError(where + ": tensor '" + b[i].first + "' has shape " + shape_text(b[i].second) + ", " +
                       reference + " " + shape_text(a[i].second));
  }
}

std::vector<SnapshotFile> read_snapshot_files(const std::vector<std::string>& checkpoints) {
  std::vector<SnapshotFile> files;
  std::vector<fs::path> seen;
  for (const auto& path : checkpoints) {
    const auto canonical = fs::weakly_canonical(path);
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) throw InputError(path + ": checkpoint given twice");
    seen.push_back(canonical);
    files.push_back(read_snapshot_file(path));
  }
  std::stable_sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.images < b.images; });
  const SnapshotFile* first = nullptr;
  std::string first_group;
  for (const auto& f : files) {
    for (const auto& [group, sigma_rel] : f.power_groups) {
      if (!first) {
        first = &f;
        first_group = group;
      }
      check_same_network(*first, first_group, f, group);
    }
  }
  return files;
}

std::vector<PhemaSnapshot> snapshots_of(const std::vector<SnapshotFile>& files) {
  std::vector<PhemaSnapshot> out;
  for (const auto& f : files)
    for (const auto& [group, sigma_rel] : f.power_groups)
      if (f.images > 0) out.push_back({f.path, group, f.images, sigma_rel});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.images != b.images ? a.images < b.images : a.sigma_rel < b.sigma_rel;
  });
  // Two profiles of one checkpoint with the same sigma_rel hold the same weights (the same updates from
  // the same start): one of them is the snapshot. The same time and sigma_rel in two files is either a
  // file given twice or two runs mixed, and the solve cannot use both.
  std::vector<PhemaSnapshot> unique;
  for (auto& s : out) {
    if (!unique.empty() && unique.back().checkpoint == s.checkpoint && unique.back().images == s.images &&
        unique.back().sigma_rel == s.sigma_rel)
      continue;
    unique.push_back(std::move(s));
  }
  out = std::move(unique);
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].images == out[i - 1].images && out[i].sigma_rel == out[i - 1].sigma_rel)
      throw InputError(fmt::format("{}:/{}: the same snapshot as {}:/{} ({} images, sigma_rel {}); the post-hoc EMA "
                                   "solve is ill-posed with a repeated snapshot",
                                   out[i].checkpoint, out[i].group, out[i - 1].checkpoint, out[i - 1].group,
                                   out[i].images, out[i].sigma_rel));
  return out;
}

std::string describe(const std::vector<std::string>& checkpoints) {
  if (checkpoints.empty()) return "no checkpoints";
  if (checkpoints.size() == 1) return checkpoints.front();
  return fmt::format("{} (and {} more checkpoints)", checkpoints.back(), checkpoints.size() - 1);
}

}  // namespace

double power_function_correlation(double a_time, double a_sigma_rel, double b_time, double b_sigma_rel) {
  // phema.py power_function_correlation, elementwise.
  const double a_exp = power_ema_gamma(a_sigma_rel);
  const double b_exp = power_ema_gamma(b_sigma_rel);
  const double t_ratio = a_time / b_time;
  const double t_exp = a_time < b_time ? b_exp : -a_exp;
  const double t_max = std::max(a_time, b_time);
  const double num = (a_exp + 1) * (b_exp + 1) * std::pow(t_ratio, t_exp);
  const double den = (a_exp + b_exp + 1) * t_max;
  return num / den;
}

torch::Tensor solve_posthoc_coefficients(const std::vector<double>& in_times, const std::vector<double>& in_sigma_rel,
                                         const std::vector<double>& out_times, const std::vector<double>& out_sigma_rel) {
  if (in_times.size() != in_sigma_rel.size() || out_times.size() != out_sigma_rel.size())
    throw InputError("post-hoc EMA: times and sigma_rel lists differ in length");
  if (in_times.empty() || out_times.empty()) throw InputError("post-hoc EMA: no input or no output profiles");
  for (const auto t : in_times)
    if (!(t > 0) || !std::isfinite(t)) throw InputError(fmt::format("post-hoc EMA: snapshot time {} must be positive", t));
  for (const auto t : out_times)
    if (!(t > 0) || !std::isfinite(t)) throw InputError(fmt::format("post-hoc EMA: target time {} must be positive", t));
  for (const auto s : in_sigma_rel) gamma_of(s, "post-hoc EMA snapshot");
  for (const auto s : out_sigma_rel) gamma_of(s, "post-hoc EMA target");

  const auto n = static_cast<int64_t>(in_times.size()), m = static_cast<int64_t>(out_times.size());
  auto a = torch::empty({n, n}, torch::kFloat64);
  auto b = torch::empty({n, m}, torch::kFloat64);
  auto a_ = a.accessor<double, 2>();
  auto b_ = b.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      a_[i][j] = power_function_correlation(in_times[i], in_sigma_rel[i], in_times[j], in_sigma_rel[j]);
    for (int64_t j = 0; j < m; ++j)
      b_[i][j] = power_function_correlation(in_times[i], in_sigma_rel[i], out_times[j], out_sigma_rel[j]);
  }
  const double condition = at::linalg_cond(a).item<double>();
  if (!(condition <= kMaxCondition))
    throw InputError(fmt::format("post-hoc EMA: the {} snapshot profiles are linearly dependent (condition number "
                                 "{:.3g}); the solve is ill-posed",
                                 n, condition));
  torch::Tensor x;
  try {
    x = at::linalg_solve(a, b);
  } catch (const c10::Error& e) {
    throw InputError(fmt::format("post-hoc EMA: the solve over {} snapshot profiles failed (ill-posed): {}", n,
                                 e.what_without_backtrace()));
  }
  x = x / x.sum(0, /*keepdim=*/true);
  if (!torch::isfinite(x).all().item<bool>())
    throw InputError("post-hoc EMA: the solve gave non-finite coefficients; it is ill-posed for these snapshots");
  return x;
}

std::string posthoc_ema_group(double sigma_rel) {
  // EDM2 names reconstructions with {std:.3f}; more decimals only where three would merge two targets.
  for (int decimals = 3; decimals < 17; ++decimals) {
    const auto text = fmt::format("{:.{}f}", sigma_rel, decimals);
    if (std::stod(text) == sigma_rel) return "ema.posthoc-" + text;
  }
  return fmt::format("ema.posthoc-{}", sigma_rel);
}

std::vector<std::string> posthoc_snapshot_checkpoints(const RunFolder& folder) {
  static const std::regex pattern("ckpt-([0-9]+)\\.h5");  // RunFolder::checkpoint's names
  if (!fs::is_directory(folder.path())) throw InputError(folder.path() + ": not a run folder");
  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& entry : fs::directory_iterator(folder.path())) {
    std::smatch m;
    const auto name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, m, pattern)) found.emplace_back(std::stoll(m[1]), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [step, path] : found) out.push_back(std::move(path));
  return out;
}

std::vector<PhemaSnapshot> posthoc_snapshots(const std::vector<std::string>& checkpoints) {
  return snapshots_of(read_snapshot_files(checkpoints));
}

PosthocEmaResult reconstruct_posthoc_emas(const std::vector<std::string>& checkpoints,
                                          const std::vector<double>& sigma_rels, const std::string& out,
                                          bool progress) {
  if (sigma_rels.empty()) throw InputError(out + ": no target sigma_rel");
  for (size_t j = 0; j < sigma_rels.size(); ++j) {
    gamma_of(sigma_rels[j], out + ": target");
    for (size_t k = 0; k < j; ++k)
      if (posthoc_ema_group(sigma_rels[k]) == posthoc_ema_group(sigma_rels[j]))
        throw InputError(fmt::format("{}: target sigma_rel {} given twice", out, sigma_rels[j]));
  }
  const auto files = read_snapshot_files(checkpoints);
  PosthocEmaResult result;
  result.snapshots = snapshots_of(files);
  if (result.snapshots.empty())
    throw InputError(describe(checkpoints) + ": no power-function EMA profile (ema kind \"power\") after step 0");
  // reconstruct_phema.py: the target time is the highest input time, its checkpoint the one to copy.
  result.images = result.snapshots.back().images;
  const auto last_file = std::find_if(files.begin(), files.end(),
                                      [&](const auto& f) { return f.path == result.snapshots.back().checkpoint; });
  const SnapshotFile& last = *last_file;

  std::vector<double> in_times, in_sigma, out_times(sigma_rels.size(), static_cast<double>(result.images));
  for (const auto& s : result.snapshots) {
    in_times.push_back(static_cast<double>(s.images));
    in_sigma.push_back(s.sigma_rel);
  }
  torch::Tensor coefficients;
  try {
    coefficients = solve_posthoc_coefficients(in_times, in_sigma, out_times, sigma_rels);
  } catch (const InputError& e) {
    throw InputError(describe(checkpoints) + ": " + e.what());
  }
  if (result.snapshots.size() == 1)
    spdlog::warn("post-hoc EMA from one snapshot ({}:/{}) is that snapshot, whatever the target sigma_rel",
                 result.snapshots[0].checkpoint, result.snapshots[0].group);
  auto c = coefficients.accessor<double, 2>();
  std::map<std::pair<std::string, std::string>, size_t> index;  // (file, group) -> row
  for (size_t i = 0; i < result.snapshots.size(); ++i)
    index[{result.snapshots[i].checkpoint, result.snapshots[i].group}] = i;

  for (const auto s : sigma_rels) result.groups.push_back(posthoc_ema_group(s));
  std::vector<NamedTensors> sums(sigma_rels.size());
  Checkpoint output;
  ProgressBar bar("ema reconstruct", static_cast<int64_t>(files.size()), "ckpt");
  if (!progress) bar.set_output(stderr, false, 1e9);
  for (const auto& f : files) {
    const bool is_last = &f == &last;
    if (!is_last && f.power_groups.empty()) {  // nothing to read (an empty list would read every group)
      bar.advance();
      continue;
    }
    std::vector<std::string> wanted;
    if (is_last) {
      for (const auto& g : checkpoint_groups(f.path))
        if (is_weights_group(g)) wanted.push_back(g);
    } else {
      for (const auto& [group, sigma] : f.power_groups) wanted.push_back(group);
    }
    const auto ckpt = read_checkpoint(f.path, wanted);
    torch::NoGradGuard no_grad;
    for (const auto& [group, sigma] : f.power_groups) {
      const auto row = index.find({f.path, group});
      if (row == index.end()) continue;  // a snapshot at 0 images
      const auto& tensors = ckpt.group(group);
      for (size_t j = 0; j < sums.size(); ++j) {
        auto& sum = sums[j];
        const double weight = c[static_cast<int64_t>(row->second)][static_cast<int64_t>(j)];
        if (sum.empty()) {
          for (const auto& [name, tensor] : tensors)
            sum.emplace_back(name, tensor.is_floating_point() ? torch::zeros(tensor.sizes(), torch::kFloat64) : tensor);
        }
        for (size_t k = 0; k < tensors.size(); ++k) {
          const auto& tensor = tensors[k].second;
          // reconstruct_phema.py: parameters are the weighted sum, the rest come from the last input.
          if (tensor.is_floating_point())
            sum[k].second.add_(tensor.to(torch::kFloat64), weight);
          else
            sum[k].second = tensor;
        }
      }
    }
    if (is_last) {
      output.config = ckpt.config;
      output.attributes = ckpt.attributes;
      output.groups = ckpt.groups;
    }
    bar.advance();
  }
  bar.finish();

  nlohmann::json record = {{"images", result.images}, {"targets", nlohmann::json::array()},
                           {"snapshots", nlohmann::json::array()}};
  for (size_t j = 0; j < sums.size(); ++j) {
    if (output.has(result.groups[j]))
      throw InputError(last.path + ": already holds a group '/" + result.groups[j] + "'; the reconstruction would replace it");
    output.groups[result.groups[j]] = std::move(sums[j]);
    record["targets"].push_back({{"sigma_rel", sigma_rels[j]}, {"group", result.groups[j]}});
  }
  for (const auto& s : result.snapshots)
    record["snapshots"].push_back({{"checkpoint", fs::path(s.checkpoint).filename().string()},
                                   {"group", s.group},
                                   {"images", s.images},
                                   {"sigma_rel", s.sigma_rel}});
  output.attributes["posthoc_ema"] = record.dump();
  const auto parent = fs::path(out).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  write_checkpoint(out, output);
  return result;
}

std::string reconstruct_posthoc_ema(const std::vector<std::string>& checkpoints, double sigma_rel, const std::string& out) {
  return reconstruct_posthoc_emas(checkpoints, {sigma_rel}, out).groups.front();
}

}  // namespace cmbench

// cmbench fid | is | swd | frechet | features | stats
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "data/image_source.h"
#include "metrics/features.h"
#include "metrics/frechet.h"
#include "metrics/inception_score.h"
#include "metrics/statistics.h"
#include "metrics/swd.h"

namespace cmbench::cli {

namespace {

struct FeatureOptions {
  std::string weights, detector, mode;  // empty: defaults of DetectorOptions (explicit --mode is tracked)
  int64_t num = 0, batch = 64;
};

void add_feature_options(CLI::App* command, FeatureOptions& o) {
  command->add_option("--weights", o.weights,
                      "Inception weights: TorchScript .pt, pytorch-fid .npz, or synthetic:SEED (default $CMBENCH_INCEPTION)");
  command->add_option("--detector", o.detector, "native or torchscript (chosen for a .pt file)")
      ->check(CLI::IsMember({"native", "torchscript"}));
  command->add_option("--mode", o.mode, "preprocessing: tf (default, as the papers) or pytorch")
      ->check(CLI::IsMember({"tf", "pytorch"}));
  command->add_option("--num", o.num, "number of images (default all; EDM's subset rule when fewer)")
      ->check(CLI::PositiveNumber);
  command->add_option("--batch", o.batch, "batch size (default 64)")->check(CLI::PositiveNumber);
}

std::unique_ptr<InceptionDetector> detector_for(const FeatureOptions& o) {
  return make_detector(DetectorOptions().weights(o.weights).detector(o.detector).mode(o.mode).device("auto"));
}

ExtractionOptions extraction_for(const FeatureOptions& o, const std::string& label, bool with_logits) {
  return ExtractionOptions().batch(o.batch).label(label).with_logits(with_logits);
}

// Statistics of PATH: read from a statistics .npz, or computed from its images (EDM's subset for --num).
FeatureStatistics statistics_of(const std::string& path, const FeatureOptions& o, int64_t seed,
                                std::unique_ptr<InceptionDetector>& detector, int ddof) {
  if (is_statistics_file(path)) {
    auto stats = read_statistics(path);
    if (stats.n >= 0 && stats.n < 2048) {
      spdlog::warn("{}: statistics of {} images (< 2048): the covariance is rank-deficient", path, stats.n);
    }
    return stats;
  }
  const auto source = open_image_source(path);
  const auto indices = select_indices(*source, o.num, seed);
  if (!detector) detector = detector_for(o);
  return image_statistics(*source, indices, *detector, extraction_for(o, path, false), ddof);
}

void run_frechet(const std::string& a, const std::string& b, bool json) {
  const auto sa = read_statistics(a);
  const auto sb = read_statistics(b);
  if (sa.mu.size(0) != sb.mu.size(0)) {
    throw InputError(fmt::format("{}: feature dimension {} differs from {} in {}", b, sb.mu.size(0), sa.mu.size(0), a));
  }
  const double fd = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma);
  if (json) {
    print_json({{"fd", fd},
                {"inputs", {a, b}},
                {"dims", sa.mu.size(0)},
                {"n", {sa.n, sb.n}}});
  } else {
    std::cout << fmt::format("Fréchet distance {:.6f} (D = {}; {} vs {})", fd, sa.mu.size(0), a, b) << std::endl;
  }
}

void run_fid(const std::string& a, const std::string& b, const FeatureOptions& o, int64_t seed, bool json) {
  std::unique_ptr<InceptionDetector> detector;
  const auto sa = statistics_of(a, o, seed, detector, 1);
  const auto sb = statistics_of(b, o, seed, detector, 1);
  if (sa.mu.size(0) != sb.mu.size(0)) {
    throw InputError(fmt::format("{}: feature dimension {} differs from {} in {}", b, sb.mu.size(0), sa.mu.size(0), a));
  }
  const double fid = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma);
  if (json) {
    nlohmann::json out = {{"fid", fid}, {"inputs", {a, b}}, {"n", {sa.n, sb.n}}, {"seed", seed}};
    if (o.num > 0) out["num"] = o.num;
    out["detector"] = detector ? detector->describe() : nlohmann::json(nullptr);
    print_json(out);
  } else {
    std::cout << fmt::format("FID {:.6f} ({} images of {} vs {} of {})", fid, sa.n, a, sb.n, b) << std::endl;
  }
}

void run_is(const std::string& path, const FeatureOptions& o, int64_t splits, std::optional<uint32_t> shuffle_seed,
            bool json) {
  const auto source = open_image_source(path);
  const auto indices = select_indices(*source, o.num, 0);
  auto detector = detector_for(o);
  const auto out = extract_all_features(*source, indices, *detector, extraction_for(o, path, true));
  const auto score = inception_score_from_logits(out.logits_unbiased, splits, shuffle_seed);
  if (json) {
    nlohmann::json j = {{"is_mean", score.mean}, {"is_std", score.std}, {"input", path},
                        {"n", static_cast<int64_t>(indices.size())}, {"splits", splits},
                        {"detector", detector->describe()}};
    j["shuffle_seed"] = shuffle_seed ? nlohmann::json(*shuffle_seed) : nlohmann::json(nullptr);
    print_json(j);
  } else {
    std::cout << fmt::format("Inception Score {:.6f} +- {:.6f} ({} images of {}, {} splits)", score.mean, score.std,
                             indices.size(), path, splits)
              << std::endl;
  }
}

void run_swd(const std::string& a, const std::string& b, int64_t num, int64_t seed, bool json) {
  const auto sa = open_image_source(a);
  const auto sb = open_image_source(b);
  int64_t n = std::min(sa->size(), sb->size());
  if (num > 0) {
    if (num > n) throw InputError(fmt::format("--num {} exceeds the images available ({} in {}, {} in {})", num, sa->size(), a, sb->size(), b));
    n = num;
  }
  if (n <= 0) throw InputError(fmt::format("{}: no images", sa->size() == 0 ? a : b));
  if (seed < 0 || seed > 0xffffffffLL) throw InputError("--seed must be in [0, 2^32 - 1]");
  const auto result = sliced_wasserstein(sa->read(0, n), sb->read(0, n), SwdOptions().seed(seed));
  if (json) {
    print_json({{"swd", result.average}, {"swd_levels", result.levels}, {"resolutions", result.resolutions},
                {"inputs", {a, b}}, {"n", n}, {"seed", seed}});
  } else {
    std::cout << fmt::format("SWD x1e3 {:.4f} (levels {} at {}; {} images each)", result.average,
                             fmt::join(result.levels, ", "), fmt::join(result.resolutions, ", "), n)
              << std::endl;
  }
}

void run_features(const std::string& input, const std::string& out_path, const FeatureOptions& o,
                  const std::string& layer) {
  const auto source = open_image_source(input);
  const auto indices = select_indices(*source, o.num, 0);
  auto detector = detector_for(o);
  const bool logits = layer == "logits_unbiased";
  const auto out = extract_all_features(*source, indices, *detector, extraction_for(o, input, logits));
  NpzMap arrays;
  arrays["features"] = from_tensor((logits ? out.logits_unbiased : out.pool3).to(torch::kFloat32).contiguous());
  arrays["indices"] = from_tensor(torch::tensor(indices, torch::kInt64));
  auto meta = detector->describe();
  meta["layer"] = layer;
  meta["source"] = input;
  const std::string text = meta.dump();
  arrays["meta"] = NpyArray::from<uint8_t>({static_cast<int64_t>(text.size())}, reinterpret_cast<const uint8_t*>(text.data()));
  write_npz(out_path, arrays);
  std::cerr << fmt::format("wrote {} ({} x {} {})", out_path, out.pool3.size(0), arrays["features"].shape[1], layer) << std::endl;
}

void run_stats(const std::string& input, const std::string& out_path, const FeatureOptions& o, int ddof) {
  const auto source = open_image_source(input);
  const auto indices = select_indices(*source, o.num, 0);
  auto detector = detector_for(o);
  const auto stats = image_statistics(*source, indices, *detector, extraction_for(o, input, false), ddof);
  write_statistics(out_path, stats);
  std::cerr << fmt::format("wrote {} (n = {}, D = {}, ddof {})", out_path, stats.n, stats.mu.size(0), ddof) << std::endl;
}

}  // namespace

void add_metric_commands(CLI::App& app) {
  struct PairOptions {
    std::string a, b;
    int64_t seed = 0;
    bool json = false;
    FeatureOptions features;
    int64_t num = 0;
  };

  auto fid_opt = std::make_shared<PairOptions>();
  auto* fid = app.add_subcommand("fid", "Fréchet Inception distance between two image sets or statistics files");
  fid->add_option("path_a", fid_opt->a, "images or statistics .npz")->required();
  fid->add_option("path_b", fid_opt->b, "images or statistics .npz")->required();
  add_feature_options(fid, fid_opt->features);
  fid->add_option("--seed", fid_opt->seed, "subset seed for --num (EDM's rule)");
  fid->add_flag("--json", fid_opt->json, "print one JSON object (key fid)");
  on_selected(fid, [fid_opt] { run_fid(fid_opt->a, fid_opt->b, fid_opt->features, fid_opt->seed, fid_opt->json); });

  struct IsOptions {
    std::string path;
    FeatureOptions features;
    int64_t splits = 10, shuffle_seed = -1;
    bool json = false;
  };
  auto is_opt = std::make_shared<IsOptions>();
  auto* is = app.add_subcommand("is", "Inception Score");
  is->add_option("path", is_opt->path, "images")->required();
  add_feature_options(is, is_opt->features);
  is->add_option("--splits", is_opt->splits, "contiguous splits (default 10)")->check(CLI::PositiveNumber);
  is->add_option("--shuffle-seed", is_opt->shuffle_seed, "reorder predictions by numpy's permutation(S) first")
      ->check(CLI::Range(int64_t{0}, int64_t{0xffffffffLL}));
  is->add_flag("--json", is_opt->json, "print one JSON object (keys is_mean, is_std)");
  on_selected(is, [is_opt] {
    std::optional<uint32_t> shuffle;
    if (is_opt->shuffle_seed >= 0) shuffle = static_cast<uint32_t>(is_opt->shuffle_seed);
    run_is(is_opt->path, is_opt->features, is_opt->splits, shuffle, is_opt->json);
  });

  auto swd_opt = std::make_shared<PairOptions>();
  auto* swd = app.add_subcommand("swd", "sliced Wasserstein distance (weight-free; PGGAN)");
  swd->add_option("path_a", swd_opt->a, "images")->required();
  swd->add_option("path_b", swd_opt->b, "images")->required();
  swd->add_option("--num", swd_opt->num, "images per set (default min of both)")->check(CLI::PositiveNumber);
  swd->add_option("--seed", swd_opt->seed, "seed of positions and directions (default 0)");
  swd->add_flag("--json", swd_opt->json, "print one JSON object (keys swd, swd_levels)");
  on_selected(swd, [swd_opt] { run_swd(swd_opt->a, swd_opt->b, swd_opt->num, swd_opt->seed, swd_opt->json); });

  auto fd_opt = std::make_shared<PairOptions>();
  auto* frechet = app.add_subcommand("frechet", "Fréchet distance of two statistics files (mu, sigma)");
  frechet->add_option("stats_a", fd_opt->a, "STATS_A.npz")->required();
  frechet->add_option("stats_b", fd_opt->b, "STATS_B.npz")->required();
  frechet->add_flag("--json", fd_opt->json, "print one JSON object (key fd)");
  on_selected(frechet, [fd_opt] { run_frechet(fd_opt->a, fd_opt->b, fd_opt->json); });

  struct ExtractOptions {
    std::string input, out, layer = "pool3";
    int64_t ddof = 1;
    FeatureOptions features;
  };
  auto feat_opt = std::make_shared<ExtractOptions>();
  auto* features = app.add_subcommand("features", "Inception features of an image set (npz key features)");
  features->add_option("--input", feat_opt->input, "images")->required();
  features->add_option("--out", feat_opt->out, "FILE.npz")->required();
  add_feature_options(features, feat_opt->features);
  features->add_option("--layer", feat_opt->layer, "pool3 or logits_unbiased")
      ->check(CLI::IsMember({"pool3", "logits_unbiased"}));
  on_selected(features, [feat_opt] { run_features(feat_opt->input, feat_opt->out, feat_opt->features, feat_opt->layer); });

  auto stats_opt = std::make_shared<ExtractOptions>();
  auto* stats = app.add_subcommand("stats", "reference statistics (mu, sigma, n, meta) of an image set");
  stats->add_option("--input", stats_opt->input, "images")->required();
  stats->add_option("--out", stats_opt->out, "FILE.npz")->required();
  add_feature_options(stats, stats_opt->features);
  stats->add_option("--ddof", stats_opt->ddof, "covariance normalization: 1 (default) or 0 (StyleGAN3/ECT)")
      ->check(CLI::IsMember({0, 1}));
  on_selected(stats, [stats_opt] {
    run_stats(stats_opt->input, stats_opt->out, stats_opt->features, static_cast<int>(stats_opt->ddof));
  });
}

}  // namespace cmbench::cli

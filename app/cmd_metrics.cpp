// cmbench fid | is | swd | frechet | features | stats
#include <iostream>

#include <fmt/format.h>

#include "app/cli.h"
#include "core/error.h"
#include "metrics/frechet.h"
#include "metrics/statistics.h"

namespace cmbench::cli {

namespace {

struct FeatureOptions {
  std::string weights, detector = "native", mode = "tf";
  int64_t num = 0, batch = 0;
};

void add_feature_options(CLI::App* command, FeatureOptions& o) {
  command->add_option("--weights", o.weights, "Inception weights: TorchScript .pt, pytorch-fid .npz, or synthetic:SEED");
  command->add_option("--detector", o.detector, "native or torchscript (chosen for a .pt file)")
      ->check(CLI::IsMember({"native", "torchscript"}));
  command->add_option("--mode", o.mode, "preprocessing: tf (default, as the papers) or pytorch")
      ->check(CLI::IsMember({"tf", "pytorch"}));
  command->add_option("--num", o.num, "number of images (default all; EDM's subset rule when fewer)")
      ->check(CLI::PositiveNumber);
  command->add_option("--batch", o.batch, "batch size")->check(CLI::PositiveNumber);
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
  not_implemented(fid, "issue 6, metrics");

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
  is->add_option("--shuffle-seed", is_opt->shuffle_seed, "reorder predictions by numpy's permutation(S) first");
  is->add_flag("--json", is_opt->json, "print one JSON object (keys is_mean, is_std)");
  not_implemented(is, "issue 6, metrics");

  auto swd_opt = std::make_shared<PairOptions>();
  auto* swd = app.add_subcommand("swd", "sliced Wasserstein distance (weight-free; PGGAN)");
  swd->add_option("path_a", swd_opt->a, "images")->required();
  swd->add_option("path_b", swd_opt->b, "images")->required();
  swd->add_option("--num", swd_opt->num, "images per set (default min of both)")->check(CLI::PositiveNumber);
  swd->add_option("--seed", swd_opt->seed, "seed of positions and directions (default 0)");
  swd->add_flag("--json", swd_opt->json, "print one JSON object (keys swd, swd_levels)");
  not_implemented(swd, "issue 6, metrics");

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
  not_implemented(features, "issue 6, metrics");

  auto stats_opt = std::make_shared<ExtractOptions>();
  auto* stats = app.add_subcommand("stats", "reference statistics (mu, sigma, n, meta) of an image set");
  stats->add_option("--input", stats_opt->input, "images")->required();
  stats->add_option("--out", stats_opt->out, "FILE.npz")->required();
  add_feature_options(stats, stats_opt->features);
  stats->add_option("--ddof", stats_opt->ddof, "covariance normalization: 1 (default) or 0 (StyleGAN3/ECT)")
      ->check(CLI::IsMember({0, 1}));
  not_implemented(stats, "issue 6, metrics");
}

}  // namespace cmbench::cli

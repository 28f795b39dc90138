// cmbench fid | is | swd | kid | pr | sfid | fd-dinov2 | frechet | features | stats
#include <algorithm>
#include <iostream>
#include <limits>

#include <fmt/format.h>

#include "app/cli.h"
#include "app/launch.h"
#include "core/device.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "data/image_source.h"
#include "metrics/features.h"
#include "metrics/frechet.h"
#include "metrics/image_set_features.h"
#include "metrics/protocol.h"
#include "metrics/registry.h"
#include "metrics/statistics.h"
#include "metrics/vgg16_detector.h"

namespace cmbench::cli {

namespace {

struct FeatureOptions {
  std::string weights, detector, mode;  // empty: defaults of DetectorOptions (explicit --mode is tracked)
  std::string dinov2_weights, vgg16;    // empty: $CMBENCH_DINOV2, $CMBENCH_VGG16
  int64_t num = 0, batch = 64;
};

// The ranks of the launch environment (torchrun, srun, --nproc): they share the Inception batches
// (extract_features), and rank 0 alone prints and writes. Each rank's detector is on GPU LOCAL_RANK.
struct Ranks {
  LaunchEnv env = read_launch_env();
  std::shared_ptr<ProcessGroup> group = join_ranks(env);
  std::string device() const { return env.distributed() ? device_for_rank("auto", env.local_rank) : "auto"; }
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

void add_dinov2_option(CLI::App* command, FeatureOptions& o) {
  command->add_option("--dinov2-weights", o.dinov2_weights,
                      "DINOv2 ViT-L/14 weights: .npz (scripts/convert-dinov2-weights) or synthetic:SEED "
                      "(default $CMBENCH_DINOV2)");
}

void add_vgg16_option(CLI::App* command, FeatureOptions& o) {
  command->add_option("--vgg16", o.vgg16, "NVIDIA's TorchScript vgg16.pt for --protocol stylegan2-ada (default $CMBENCH_VGG16)");
}

std::unique_ptr<InceptionDetector> detector_for(const FeatureOptions& o, const Ranks& ranks) {
  return make_detector(DetectorOptions().weights(o.weights).detector(o.detector).mode(o.mode).device(ranks.device()));
}

ExtractionOptions extraction_for(const FeatureOptions& o, const std::string& label, bool with_logits) {
  return ExtractionOptions().batch(o.batch).label(label).with_logits(with_logits);
}

void run_frechet(const std::string& a, const std::string& b, bool allow_protocol_mismatch, bool json) {
  const auto sa = read_statistics(a);
  const auto sb = read_statistics(b);
  const auto mismatches = protocol_differences(protocol_from_meta(sa.meta, Feature::pool3_statistics, "mu"),
                                               protocol_from_meta(sb.meta, Feature::pool3_statistics, "mu"));
  check_protocols(mismatches, a, b, allow_protocol_mismatch);
  const double fd = frechet_distance(sa, a, sb, b);
  if (json) {
    nlohmann::json out{{"fd", fd}, {"inputs", {a, b}}, {"dims", sa.mu.size(0)}, {"n", {sa.n, sb.n}}};
    if (!mismatches.empty()) out["protocol_mismatch"] = mismatches;
    print_json(out);
  } else {
    std::cout << fmt::format("Fréchet distance {:.6f} (D = {}; {} vs {})", fd, sa.mu.size(0), a, b) << std::endl;
  }
}

// Whether the file at `path` serves `needs` itself (a features .npz, or a statistics .npz holding
// every statistics asked for) rather than as images (a reference batch's arr_0 for the rest).
bool served_by_file(const std::string& path, const std::set<Feature>& needs) {
  if (is_features_file(path)) return true;
  if (!is_statistics_file(path)) return false;
  if (statistics_file_holds(path, needs)) return true;
  const auto keys = npz_keys(path);
  const bool has_images = std::find(keys.begin(), keys.end(), "arr_0") != keys.end() ||
                          std::find(keys.begin(), keys.end(), "images") != keys.end();
  return !has_images;  // statistics only: statistics_file_features says what is missing
}

// `cmbench fid|is|swd|kid|pr|sfid|fd-dinov2`: the registry's metric on the inputs, each a set of
// images (the EDM subset of --num, by --seed), a features .npz of `cmbench features`, or, where only
// statistics are needed, a statistics .npz. A metric that needs equally large sets defaults --num to
// the smaller set, so a suite's stored value (the generated set against the reference's EDM subset
// of that size) is reproduced by the command.
void run_metric(const std::string& name, const std::vector<std::string>& paths, const FeatureOptions& o, int64_t seed,
                const MetricSettings& settings, bool json) {
  const Ranks ranks;
  const auto metric = metric_registry().create(name);
  const auto needs = metric->features();
  std::vector<std::unique_ptr<ImageSource>> sources;
  for (const auto& path : paths) sources.push_back(served_by_file(path, needs) ? nullptr : open_image_source(path));
  int64_t num = o.num;
  if (metric->equal_set_sizes() && num == 0) {
    num = std::numeric_limits<int64_t>::max();
    for (const auto& source : sources) num = std::min(num, source ? source->size() : num);
  }
  std::vector<std::vector<int64_t>> indices;
  for (const auto& source : sources) indices.push_back(source ? select_indices(*source, num, seed) : std::vector<int64_t>{});
  const bool reads_images = std::any_of(sources.begin(), sources.end(), [](const auto& s) { return s != nullptr; });
  std::unique_ptr<InceptionDetector> detector;
  std::unique_ptr<Dinov2Detector> dinov2;
  std::unique_ptr<Vgg16Detector> vgg16;
  if (reads_images && needs_detector(needs)) detector = detector_for(o, ranks);
  if (reads_images && needs_dinov2(needs)) {
    dinov2 = make_dinov2_detector(Dinov2DetectorOptions().weights(o.dinov2_weights).device(ranks.device()));
  }
  if (reads_images && needs_vgg16(needs)) {
    vgg16 = make_vgg16_detector(Vgg16DetectorOptions().weights(o.vgg16).device(ranks.device()));
  }
  const FeatureNetworks networks{detector.get(), dinov2.get(), vgg16.get()};
  std::vector<ImageSetFeatures> sets;
  for (size_t i = 0; i < paths.size(); ++i) {
    sets.push_back(sources[i] ? image_set_features(*sources[i], indices[i], needs, networks, o.batch, ranks.group.get())
                              : file_features(paths[i], needs));
  }
  if (!ranks.group->is_root()) return;
  const auto result = evaluate_metric(*metric, sets[0], sets.size() > 1 ? &sets[1] : nullptr, settings);
  const bool one_count = sets.size() == 1 || metric->equal_set_sizes();
  if (json) {
    nlohmann::json out(result.values);
    out.update(result.details);
    if (paths.size() == 1) {
      out["input"] = paths[0];
    } else {
      out["inputs"] = paths;
    }
    nlohmann::json counts = nlohmann::json::array();
    for (const auto& set : sets) counts.push_back(set.count);
    out["n"] = one_count ? counts[0] : counts;
    out["seed"] = seed;
    if (o.num > 0) out["num"] = o.num;
    if (needs_detector(needs)) out["detector"] = detector ? detector->describe() : nlohmann::json(nullptr);
    if (needs_dinov2(needs)) out["dinov2_detector"] = dinov2 ? dinov2->describe() : nlohmann::json(nullptr);
    if (needs_vgg16(needs)) out["vgg16_detector"] = vgg16 ? vgg16->describe() : nlohmann::json(nullptr);
    print_json(out);
  } else if (sets.size() == 1) {
    std::cout << fmt::format("{} ({} images of {})", metric->summary(result), sets[0].count, paths[0]) << std::endl;
  } else {
    std::cout << fmt::format("{} ({} images of {} vs {} of {})", metric->summary(result), sets[0].count, paths[0],
                             sets[1].count, paths[1])
              << std::endl;
  }
}

void run_features(const std::string& input, const std::string& out_path, const FeatureOptions& o,
                  const std::string& layer) {
  const Ranks ranks;
  const auto source = open_image_source(input);
  const auto indices = select_indices(*source, o.num, 0);
  auto detector = detector_for(o, ranks);
  const bool logits = layer == "logits_unbiased";
  const auto out = extract_all_features(*source, indices, *detector, extraction_for(o, input, logits), ranks.group.get());
  ranks.group->barrier();
  if (!ranks.group->is_root()) return;
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

struct StatsLayers {
  bool spatial = false, dinov2 = false;
};

// Statistics of pool3 and, when asked, of sFID's spatial features (the same Inception pass) and of
// DINOv2, in one file (mu/sigma, mu_s/sigma_s, mu_dinov2/sigma_dinov2); meta["statistics"] gives
// each pair's protocol.
void run_stats(const std::string& input, const std::string& out_path, const FeatureOptions& o, int ddof,
               StatsLayers layers) {
  const Ranks ranks;
  const auto source = open_image_source(input);
  const auto indices = select_indices(*source, o.num, 0);
  auto detector = detector_for(o, ranks);
  std::unique_ptr<Dinov2Detector> dinov2;
  if (layers.dinov2) dinov2 = make_dinov2_detector(Dinov2DetectorOptions().weights(o.dinov2_weights).device(ranks.device()));
  std::set<Feature> wanted{Feature::pool3_statistics};
  if (layers.spatial) wanted.insert(Feature::spatial_statistics);
  if (layers.dinov2) wanted.insert(Feature::dinov2_statistics);
  auto set = image_set_features(*source, indices, wanted, FeatureNetworks{detector.get(), dinov2.get()}, o.batch,
                                ranks.group.get(), ddof);
  ranks.group->barrier();  // every rank has read its images before rank 0 writes (the output may be an input's neighbour)
  if (!ranks.group->is_root()) return;
  auto& pool3 = *set.pool3_statistics;
  pool3.meta = detector->describe();
  pool3.meta["ddof"] = ddof;
  pool3.meta["layer"] = feature_layer(Feature::pool3_statistics);
  pool3.meta["source"] = input;
  pool3.meta["num"] = static_cast<int64_t>(indices.size());
  std::vector<NamedStatistics> pairs;  // pool3 first: the file's n and meta come from it
  for (const auto& k : statistics_keys()) {
    if (!wanted.count(k.feature)) continue;
    pool3.meta["statistics"][k.mu] = set.protocols.at(k.feature);
    pairs.push_back({k.mu, k.sigma, &*set.statistics(k.feature)});
  }
  write_statistics(out_path, pairs);
  std::cerr << fmt::format("wrote {} (n = {}, D = {}{}{}, ddof {})", out_path, pool3.n, pool3.mu.size(0),
                           layers.spatial ? ", sFID 2023" : "", dinov2 ? ", DINOv2 1024" : "", ddof)
            << std::endl;
}

}  // namespace

void add_metric_commands(CLI::App& app) {
  struct PairOptions {
    std::string a, b;
    int64_t seed = 0;
    bool json = false, allow_protocol_mismatch = false;
    FeatureOptions features;
  };

  const auto add_mismatch_flag = [](CLI::App* command, PairOptions& o) {
    command->add_flag("--allow-protocol-mismatch", o.allow_protocol_mismatch,
                      "compare features of different protocols (detector, weights, mode, layer, ddof); recorded in --json");
  };
  const auto settings_of = [](const PairOptions& o) {
    MetricSettings settings;
    settings.allow_protocol_mismatch = o.allow_protocol_mismatch;
    return settings;
  };

  auto fid_opt = std::make_shared<PairOptions>();
  auto* fid = app.add_subcommand("fid", "Fréchet Inception distance between two image sets or statistics files");
  fid->add_option("path_a", fid_opt->a, "images or statistics .npz")->required();
  fid->add_option("path_b", fid_opt->b, "images or statistics .npz")->required();
  add_feature_options(fid, fid_opt->features);
  fid->add_option("--seed", fid_opt->seed, "subset seed for --num (EDM's rule)");
  add_mismatch_flag(fid, *fid_opt);
  fid->add_flag("--json", fid_opt->json, "print one JSON object (key fid)");
  on_selected(fid, [fid_opt, settings_of] {
    run_metric("fid", {fid_opt->a, fid_opt->b}, fid_opt->features, fid_opt->seed, settings_of(*fid_opt), fid_opt->json);
  });

  auto sfid_opt = std::make_shared<PairOptions>();
  auto* sfid = app.add_subcommand("sfid", "spatial FID (Inception mixed_6/conv, guided-diffusion's evaluator)");
  sfid->add_option("path_a", sfid_opt->a, "images, or statistics .npz with mu_s and sigma_s (a reference batch)")->required();
  sfid->add_option("path_b", sfid_opt->b, "images, or statistics .npz with mu_s and sigma_s")->required();
  add_feature_options(sfid, sfid_opt->features);
  sfid->add_option("--seed", sfid_opt->seed, "subset seed for --num (EDM's rule)");
  add_mismatch_flag(sfid, *sfid_opt);
  sfid->add_flag("--json", sfid_opt->json, "print one JSON object (key sfid)");
  on_selected(sfid, [sfid_opt, settings_of] {
    run_metric("sfid", {sfid_opt->a, sfid_opt->b}, sfid_opt->features, sfid_opt->seed, settings_of(*sfid_opt),
               sfid_opt->json);
  });

  auto dino_opt = std::make_shared<PairOptions>();
  auto* fd_dinov2 = app.add_subcommand("fd-dinov2", "Fréchet distance of DINOv2 ViT-L/14 features (EDM2's FD_DINOv2)");
  fd_dinov2->add_option("path_a", dino_opt->a, "images, or statistics .npz with mu_dinov2 and sigma_dinov2")->required();
  fd_dinov2->add_option("path_b", dino_opt->b, "images, or statistics .npz with mu_dinov2 and sigma_dinov2")->required();
  add_dinov2_option(fd_dinov2, dino_opt->features);
  fd_dinov2->add_option("--num", dino_opt->features.num, "number of images (default all; EDM's subset rule when fewer)")
      ->check(CLI::PositiveNumber);
  fd_dinov2->add_option("--batch", dino_opt->features.batch, "batch size (default 64)")->check(CLI::PositiveNumber);
  fd_dinov2->add_option("--seed", dino_opt->seed, "subset seed for --num (EDM's rule)");
  add_mismatch_flag(fd_dinov2, *dino_opt);
  fd_dinov2->add_flag("--json", dino_opt->json, "print one JSON object (key fd_dinov2)");
  on_selected(fd_dinov2, [dino_opt, settings_of] {
    run_metric("fd_dinov2", {dino_opt->a, dino_opt->b}, dino_opt->features, dino_opt->seed, settings_of(*dino_opt),
               dino_opt->json);
  });

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
    MetricSettings settings;
    settings.is_splits = is_opt->splits;
    if (is_opt->shuffle_seed >= 0) settings.is_shuffle_seed = static_cast<uint32_t>(is_opt->shuffle_seed);
    run_metric("is", {is_opt->path}, is_opt->features, 0, settings, is_opt->json);
  });

  auto swd_opt = std::make_shared<PairOptions>();
  auto* swd = app.add_subcommand("swd", "sliced Wasserstein distance (weight-free; PGGAN)");
  swd->add_option("path_a", swd_opt->a, "images")->required();
  swd->add_option("path_b", swd_opt->b, "images")->required();
  swd->add_option("--num", swd_opt->features.num, "images per set (default the smaller set; EDM's subset rule)")
      ->check(CLI::PositiveNumber);
  swd->add_option("--seed", swd_opt->seed, "seed of the subsets, positions and directions (default 0)");
  swd->add_flag("--json", swd_opt->json, "print one JSON object (keys swd, swd_levels)");
  on_selected(swd, [swd_opt] {
    MetricSettings settings;
    settings.seed = swd_opt->seed;
    run_metric("swd", {swd_opt->a, swd_opt->b}, swd_opt->features, swd_opt->seed, settings, swd_opt->json);
  });

  struct KidOptions {
    PairOptions pair;
    int64_t subsets = 100, subset_size = 1000;
  };
  auto kid_opt = std::make_shared<KidOptions>();
  auto* kid = app.add_subcommand("kid", "kernel Inception distance (torch-fidelity's)");
  kid->add_option("path_a", kid_opt->pair.a, "generated images or features .npz")->required();
  kid->add_option("path_b", kid_opt->pair.b, "reference images or features .npz")->required();
  add_feature_options(kid, kid_opt->pair.features);
  kid->add_option("--seed", kid_opt->pair.seed, "subset seed for --num (EDM's rule)");
  kid->add_option("--subsets", kid_opt->subsets, "random subsets (default 100)")->check(CLI::PositiveNumber);
  kid->add_option("--subset-size", kid_opt->subset_size, "images per subset (default 1000)")->check(CLI::PositiveNumber);
  add_mismatch_flag(kid, kid_opt->pair);
  kid->add_flag("--json", kid_opt->pair.json, "print one JSON object (keys kid_mean, kid_std)");
  on_selected(kid, [kid_opt, settings_of] {
    auto settings = settings_of(kid_opt->pair);
    settings.kid_subsets = kid_opt->subsets;
    settings.kid_subset_size = kid_opt->subset_size;
    const auto& p = kid_opt->pair;
    run_metric("kid", {p.a, p.b}, p.features, p.seed, settings, p.json);
  });

  struct PrOptions {
    PairOptions pair;
    std::string protocol = "guided-diffusion";
  };
  auto pr_opt = std::make_shared<PrOptions>();
  auto* pr = app.add_subcommand("pr", "improved precision and recall, k = 3 (guided-diffusion's evaluator or StyleGAN's pr50k3)");
  pr->add_option("reference", pr_opt->pair.a, "reference images or features .npz")->required();
  pr->add_option("generated", pr_opt->pair.b, "generated images or features .npz")->required();
  pr->add_option("--protocol", pr_opt->protocol,
                 "guided-diffusion (Inception pool3, default) or stylegan2-ada (pr50k3: VGG16 features, --vgg16)")
      ->check(CLI::IsMember({"guided-diffusion", "stylegan2-ada"}));
  add_feature_options(pr, pr_opt->pair.features);
  add_vgg16_option(pr, pr_opt->pair.features);
  pr->add_option("--seed", pr_opt->pair.seed, "subset seed for --num (EDM's rule)");
  add_mismatch_flag(pr, pr_opt->pair);
  pr->add_flag("--json", pr_opt->pair.json, "print one JSON object (keys precision, recall)");
  on_selected(pr, [pr_opt, settings_of] {
    const auto& p = pr_opt->pair;
    const std::string metric = pr_opt->protocol == "stylegan2-ada" ? "pr50k3" : "pr";
    // The registry's metrics take the generated set first.
    run_metric(metric, {p.b, p.a}, p.features, p.seed, settings_of(p), p.json);
  });

  auto fd_opt = std::make_shared<PairOptions>();
  auto* frechet = app.add_subcommand("frechet", "Fréchet distance of two statistics files (mu, sigma)");
  frechet->add_option("stats_a", fd_opt->a, "STATS_A.npz")->required();
  frechet->add_option("stats_b", fd_opt->b, "STATS_B.npz")->required();
  add_mismatch_flag(frechet, *fd_opt);
  frechet->add_flag("--json", fd_opt->json, "print one JSON object (key fd)");
  on_selected(frechet, [fd_opt] { run_frechet(fd_opt->a, fd_opt->b, fd_opt->allow_protocol_mismatch, fd_opt->json); });

  struct ExtractOptions {
    std::string input, out, layer = "pool3";
    int64_t ddof = 1;
    FeatureOptions features;
    StatsLayers layers;
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
  stats->add_flag("--with-spatial", stats_opt->layers.spatial,
                  "also sFID's statistics (mu_s, sigma_s; native detector), as guided-diffusion's reference batches");
  stats->add_flag("--with-dinov2", stats_opt->layers.dinov2, "also FD_DINOv2's statistics (mu_dinov2, sigma_dinov2)");
  add_dinov2_option(stats, stats_opt->features);
  on_selected(stats, [stats_opt] {
    run_stats(stats_opt->input, stats_opt->out, stats_opt->features, static_cast<int>(stats_opt->ddof),
              stats_opt->layers);
  });
}

}  // namespace cmbench::cli

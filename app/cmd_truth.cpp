// cmbench truth fit | info: ground-truth Gaussian mixtures (core/gaussian_mixture.h) fitted to images
// (data/mixture_fit.h) and what a mixture file holds.
#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app/cli.h"
#include "core/gaussian_mixture.h"
#include "core/progress.h"
#include "core/rng.h"
#include "data/image_source.h"
#include "data/mixture_fit.h"
#include "metrics/features.h"

namespace cmbench::cli {

namespace {

struct FitRequest {
  std::string source, out;
  int64_t resolution = 0, components = 0, rank = 0, num = 0, seed = 0, iterations = 100;
  double min_variance = 1e-3;
};

constexpr int64_t kInfoDraws = 10000, kInfoProbesPerBucket = 16;

// The images at `indices`, box-downsampled to `resolution`, float64 (N, C, R, R) in [-1, 1]; read in
// chunks so that full-size float copies of the whole set never sit in memory at once.
torch::Tensor downsampled_images(const ImageSource& source, const std::vector<int64_t>& indices, int64_t resolution) {
  constexpr size_t kChunk = 1000;
  std::vector<torch::Tensor> parts;
  ProgressBar bar("read " + source.name(), static_cast<int64_t>(indices.size()), "img");
  for (size_t begin = 0; begin < indices.size(); begin += kChunk) {
    const std::vector<int64_t> chunk(indices.begin() + static_cast<std::ptrdiff_t>(begin),
                                     indices.begin() + static_cast<std::ptrdiff_t>(std::min(begin + kChunk, indices.size())));
    parts.push_back(box_downsample(dequantize_images(source.read_indices(chunk)), resolution));
    bar.advance(static_cast<int64_t>(chunk.size()));
  }
  bar.finish();
  return torch::cat(parts);
}

void run_fit(const FitRequest& r) {
  const auto source = open_image_source(r.source);
  const auto indices = select_indices(*source, r.num, r.seed);
  spdlog::info("truth fit: {} images of {} ({}x{}) box-downsampled to {}x{}", indices.size(), r.source, source->width(),
               source->height(), r.resolution, r.resolution);
  const auto images = downsampled_images(*source, indices, r.resolution);
  MixtureFitOptions options;
  options.kmeans.clusters = r.components;
  options.kmeans.iterations = r.iterations;
  options.kmeans.seed = static_cast<uint64_t>(r.seed);
  options.kmeans.on_iteration = [&](int64_t iteration, int64_t changed, double mean_distance) {
    spdlog::info("k-means iteration {}/{}: {} images changed cluster, mean squared distance {:.6g}", iteration,
                 r.iterations, changed, mean_distance);
  };
  options.rank = r.rank;
  options.min_variance = r.min_variance;
  const auto fit = fit_gaussian_mixture(images, options);
  fit.mixture.save(r.out);
  const auto& shape = fit.mixture.shape();
  std::cout << fmt::format("wrote {}: {} components of rank {}, shape {}x{}x{}, from {} images of {} (k-means: {} "
                           "iterations, {})",
                           r.out, fit.mixture.components(), fit.mixture.rank(), shape[0], shape[1], shape[2],
                           indices.size(), r.source, fit.clusters.iterations,
                           fit.clusters.converged ? "converged" : "stopped at --iterations")
            << std::endl;
}

void run_info(const std::string& path, bool json) {
  const auto mixture = GaussianMixture::load(path);
  const auto& parts = mixture.parts();
  const double trace = mixture.covariance().trace().item<double>();
  // The share of pixel values that quantize_images clamps: floor(x * 127.5 + 128) outside 0..255.
  const auto scaled = mixture.sample(kInfoDraws, make_generator(0, "truth-info")) * 127.5 + 128;
  const double clamped = ((scaled < 0) | (scaled >= 256)).to(torch::kFloat64).mean().item<double>();
  // Rounding to bins of width 1/127.5 adds uniform noise of variance width^2 / 12.
  const double quantization = 1.0 / (12 * 127.5 * 127.5);
  const double min_noise = parts.noise_variances.min().item<double>();
  const auto probes = make_truth_probes(mixture, kInfoProbesPerBucket);
  const auto& shape = mixture.shape();
  const auto weights = parts.weights.contiguous();
  const std::vector<double> weight_values(weights.data_ptr<double>(), weights.data_ptr<double>() + weights.numel());
  if (json) {
    print_json({{"path", path},
                {"components", mixture.components()},
                {"shape", shape},
                {"dimension", mixture.dimension()},
                {"rank", mixture.rank()},
                {"weights", weight_values},
                {"covariance_trace", trace},
                {"clamped_share", clamped},
                {"clamped_draws", kInfoDraws},
                {"quantization_variance", quantization},
                {"min_noise_variance", min_noise},
                {"quantization_relative", quantization / min_noise},
                {"ode_error_bound", probes.error_bound},
                {"ode_probes", probes.t.size(0)},
                {"fingerprint", mixture.fingerprint()}});
    return;
  }
  std::cout << fmt::format("mixture:          {}\n", path)
            << fmt::format("components:       {}\n", mixture.components())
            << fmt::format("shape:            {}x{}x{} (D = {})\n", shape[0], shape[1], shape[2], mixture.dimension())
            << fmt::format("rank:             {}\n", mixture.rank())
            << fmt::format("weights:          {:.4f}\n", fmt::join(weight_values, " "))
            << fmt::format("covariance trace: {:.6g}\n", trace)
            << fmt::format("outside [-1, 1]:  {:.4g} of pixel values clamped by uint8 quantization ({} draws)\n",
                           clamped, kInfoDraws)
            << fmt::format("quantization:     variance {:.4g} = {:.4g} x the smallest noise variance s^2 = {:.4g}\n",
                           quantization, quantization / min_noise, min_noise)
            << fmt::format("ODE error bound:  {:.3g} (f* of make_truth_probes, {} per bucket, {} probes)\n",
                           probes.error_bound, kInfoProbesPerBucket, probes.t.size(0))
            << fmt::format("fingerprint:      {}", mixture.fingerprint()) << std::endl;
}

}  // namespace

void add_truth_commands(CLI::App& app) {
  auto* truth = app.add_subcommand("truth", "ground-truth Gaussian mixtures: fit one to images, inspect one");
  truth->require_subcommand(1);

  auto fit_request = std::make_shared<FitRequest>();
  auto* fit = truth->add_subcommand("fit", "fit a Gaussian mixture (k-means, then PCA per cluster) to box-downsampled images");
  fit->add_option("source", fit_request->source, "image source (any PATH: cifar10:train, an .npz, a folder, ...)")
      ->required();
  fit->add_option("--resolution", fit_request->resolution, "box-downsample to RxR (R must divide the size)")
      ->required()
      ->check(CLI::PositiveNumber);
  fit->add_option("--components", fit_request->components, "K mixture components (k-means clusters)")
      ->required()
      ->check(CLI::PositiveNumber);
  fit->add_option("--rank", fit_request->rank, "Q principal directions per component")
      ->required()
      ->check(CLI::NonNegativeNumber);
  fit->add_option("--out", fit_request->out, "the mixture file (.npz)")->required();
  fit->add_option("--num", fit_request->num, "number of images (default all; EDM's subset rule when fewer)")
      ->check(CLI::PositiveNumber);
  fit->add_option("--seed", fit_request->seed, "subset and k-means++ seed (default 0)")->check(CLI::NonNegativeNumber);
  fit->add_option("--iterations", fit_request->iterations, "at most this many Lloyd iterations (default 100)")
      ->check(CLI::PositiveNumber);
  fit->add_option("--min-variance", fit_request->min_variance, "floor of each component's noise variance (default 1e-3)")
      ->check(CLI::PositiveNumber);
  on_selected(fit, [fit_request] { run_fit(*fit_request); });

  struct InfoRequest {
    std::string path;
    bool json = false;
  };
  auto info_request = std::make_shared<InfoRequest>();
  auto* info = truth->add_subcommand("info", "components, shape, weights, clamped mass and ODE error bound of a mixture");
  info->add_option("mixture", info_request->path, "mixture file (.npz)")->required();
  info->add_flag("--json", info_request->json, "print one JSON object");
  on_selected(info, [info_request] { run_info(info_request->path, info_request->json); });
}

}  // namespace cmbench::cli

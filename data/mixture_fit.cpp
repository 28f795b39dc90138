#include "data/mixture_fit.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "core/rng.h"

namespace cmbench {

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// |x_n - c_k|^2 for rows x (N, D) and centers c (K, D): (N, K), through one matrix product.
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& c) {
  return (x.square().sum(1, true) + c.square().sum(1).unsqueeze(0) - 2 * x.matmul(c.t())).clamp_min(0);
}

// k-means++ (Arthur & Vassilvitskii 2007): the first center uniform, each further one drawn with
// probability proportional to its squared distance from the nearest center chosen so far.
torch::Tensor kmeans_plus_plus(const torch::Tensor& x, int64_t clusters, torch::Generator generator) {
  const int64_t n = x.size(0);
  auto centers = torch::empty({clusters, x.size(1)}, kF64);
  const auto first = torch::randint(0, n, {1}, generator, torch::TensorOptions().dtype(torch::kInt64)).item<int64_t>();
  centers[0].copy_(x[first]);
  auto nearest = squared_distances(x, centers.narrow(0, 0, 1)).squeeze(1);
  for (int64_t k = 1; k < clusters; ++k) {
    if (!(nearest.sum().item<double>() > 0))
      throw InputError(fmt::format("k-means: fewer than {} distinct points for {} clusters", clusters, clusters));
    const auto pick = torch::multinomial(nearest, 1, false, generator).item<int64_t>();
    centers[k].copy_(x[pick]);
    nearest = torch::minimum(nearest, squared_distances(x, centers.narrow(0, k, 1)).squeeze(1));
  }
  return centers;
}

// Columns of `vectors` with the sign that makes each column's largest-magnitude entry positive, so
// that the saved factors do not depend on the eigensolver's sign convention.
torch::Tensor canonical_signs(const torch::Tensor& vectors) {
  if (vectors.size(1) == 0) return vectors;
  const auto largest = vectors.abs().argmax(0, true);  // (1, Q)
  const auto sign = vectors.gather(0, largest).sign();
  return vectors * torch::where(sign == 0, torch::ones_like(sign), sign);
}

}  // namespace

torch::Tensor box_downsample(const torch::Tensor& images, int64_t resolution) {
  if (images.dim() != 4) throw InputError("box downsample: images must be (N, C, H, W)");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  if (resolution <= 0 || h % resolution != 0 || w % resolution != 0)
    throw InputError(fmt::format("--resolution {}: must divide the images' size {}x{}", resolution, w, h));
  const int64_t bh = h / resolution, bw = w / resolution;
  return images.to(torch::kFloat64).reshape({n, c, resolution, bh, resolution, bw}).mean({3, 5});
}

KMeansResult kmeans(const torch::Tensor& points, const KMeansOptions& options) {
  const auto x = points.to(torch::kCPU, torch::kFloat64).reshape({points.size(0), -1}).contiguous();
  const int64_t n = x.size(0), k = options.clusters;
  if (k <= 0) throw InputError(fmt::format("k-means: clusters must be > 0, got {}", k));
  if (n < k) throw InputError(fmt::format("k-means: {} points for {} clusters", n, k));
  if (options.iterations <= 0) throw InputError(fmt::format("k-means: iterations must be > 0, got {}", options.iterations));
  KMeansResult out;
  out.centers = kmeans_plus_plus(x, k, make_generator(options.seed, "kmeans"));
  out.assignment = torch::full({n}, -1, torch::TensorOptions().dtype(torch::kInt64));
  while (out.iterations < options.iterations && !out.converged) {
    auto [nearest, index] = squared_distances(x, out.centers).min(1);
    const int64_t changed = (index != out.assignment).sum().item<int64_t>();
    out.assignment = index;
    const auto counts = torch::bincount(index, {}, k);
    const auto sums = torch::zeros({k, x.size(1)}, kF64).index_add_(0, index, x);
    auto centers = sums / counts.clamp_min(1).to(torch::kFloat64).unsqueeze(1);
    for (int64_t cluster = 0; cluster < k; ++cluster) {
      if (counts[cluster].item<int64_t>() > 0) continue;
      const auto farthest = nearest.argmax().item<int64_t>();
      centers[cluster].copy_(x[farthest]);
      nearest[farthest] = 0;  // the next empty cluster takes another point
    }
    out.centers = centers;
    ++out.iterations;
    out.converged = changed == 0;
    if (options.on_iteration) options.on_iteration(out.iterations, changed, nearest.mean().item<double>());
  }
  return out;
}

MixtureFit fit_gaussian_mixture(const torch::Tensor& images, const MixtureFitOptions& options) {
  if (images.dim() != 4) throw InputError("truth fit: images must be (N, C, H, W)");
  const int64_t n = images.size(0);
  const int64_t d = images.size(1) * images.size(2) * images.size(3), q = options.rank;
  if (q < 0 || q >= d) throw InputError(fmt::format("--rank {}: must be in 0..{} (below C*H*W)", q, d - 1));
  if (!(options.min_variance > 0)) throw InputError(fmt::format("--min-variance {}: must be > 0", options.min_variance));
  const auto x = images.to(torch::kCPU, torch::kFloat64).reshape({n, d}).contiguous();
  auto clusters = kmeans(x, options.kmeans);
  const int64_t k = options.kmeans.clusters;

  GaussianMixtureParts parts;
  parts.shape = {images.size(1), images.size(2), images.size(3)};
  parts.weights = torch::empty({k}, kF64);
  parts.means = torch::empty({k, d}, kF64);
  parts.noise_variances = torch::empty({k}, kF64);
  parts.factors = torch::empty({k, d, q}, kF64);
  parts.factor_variances = torch::empty({k, q}, kF64);
  for (int64_t cluster = 0; cluster < k; ++cluster) {
    const auto members = x.index_select(0, (clusters.assignment == cluster).nonzero().squeeze(1));
    const int64_t size = members.size(0);
    if (size == 0)
      throw InputError(fmt::format("truth fit: cluster {} is empty after {} k-means iterations; raise --iterations or "
                                   "lower --components",
                                   cluster, clusters.iterations));
    const auto mean = members.mean(0);
    const auto centered = members - mean;
    const auto covariance = centered.t().matmul(centered) / static_cast<double>(size);  // the maximum-likelihood one
    const auto [values, vectors] = torch::linalg_eigh(covariance, "L");                // ascending
    const double rest = values.narrow(0, 0, d - q).sum().item<double>() / static_cast<double>(d - q);
    const double noise = std::max(rest, options.min_variance);
    const auto top = values.narrow(0, d - q, q).flip(0);
    parts.weights[cluster] = static_cast<double>(size) / static_cast<double>(n);
    parts.means[cluster].copy_(mean);
    parts.noise_variances[cluster] = noise;
    parts.factors[cluster].copy_(canonical_signs(vectors.narrow(1, d - q, q).flip(1)));
    parts.factor_variances[cluster].copy_((top - noise).clamp_min(0));
  }
  return {GaussianMixture(std::move(parts), "truth fit"), std::move(clusters)};
}

}  // namespace cmbench

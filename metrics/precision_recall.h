// Improved precision and recall (Kynkäänniemi et al. 2019, k = 3) of feature sets, in the two
// protocols in circulation; they differ in how distances are rounded, so their numbers differ a little
// and must not be mixed in one table.
//
// Each sample's manifold radius is its (k+1)-th smallest distance to the samples of its own set,
// itself included (so the k-th neighbour). Precision is the share of the generated features that lie
// within the radius (<=) of at least one reference feature; recall is the share of the reference
// features within the radius of at least one generated feature.
//
// guided_diffusion (openai/guided-diffusion evaluations/evaluator.py, ManifoldEstimator): squared
//   Euclidean distances, ||u||^2 - 2 u.v + ||v||^2 clamped at 0, computed in float16 (features cast to
//   float16; each square, the norms, the dot products and every elementwise step rounded to float16);
//   a 10000 x 10000 block of the reference's row and column batches that has any Inf or NaN is
//   recomputed in float32. u is the row sample: a set's own row for radii, the reference sample for
//   precision and recall.
// stylegan2_ada (NVlabs/stylegan2-ada-pytorch metrics/precision_recall.py, pr50k3): features cast to
//   float16 and torch.cdist on them: the float16 norms, one product of the augmented matrices
//   [-2u, ||u||^2, 1] . [v, 1, ||v||^2] rounded to float16, clamped at 0, float16 square root.
//
// The float16 dot products and sums are modelled as exact sums rounded once (the GPU kernels
// accumulate in float32 or better; their summation order is not reproducible), computed in float64
// and rounded correctly to float16 / float32. Memory is bounded: distances are made in blocks of
// `block_size` x `block_size` and never held for a whole set (50k x 50k needs no 10 GB matrix); besides
// the features, a float16 copy of each set and about 150-250 MB of blocks (measured on the CPU: peak RSS
// 316 MB at 20k x 20k x 64, of which 170 MB is the test program itself).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace cmbench {

enum class PrProtocol { guided_diffusion, stylegan2_ada };

struct PrecisionRecallOptions {
  TORCH_ARG(PrProtocol, protocol) = PrProtocol::guided_diffusion;
  TORCH_ARG(int64_t, k) = 3;              // neighbourhood size (nhood_sizes = (3,))
  TORCH_ARG(int64_t, block_size) = 1024;  // rows and columns of one computed distance block (memory only)
  // guided_diffusion: rows and columns of the reference's batches, the unit of its float32 fallback
  // (row_batch_size = col_batch_size = 10000). Changes results only where a block falls back.
  TORCH_ARG(int64_t, fallback_block) = 10000;
};

struct PrecisionRecallResult {
  double precision = 0.0;       // precision_count / generated rows
  double recall = 0.0;          // recall_count / reference rows
  int64_t precision_count = 0;  // generated features inside the reference manifold
  int64_t recall_count = 0;     // reference features inside the generated manifold
  int64_t num_reference = 0;
  int64_t num_generated = 0;
};

// Pairwise distances of rows of u against rows of v as the protocol rounds them (float32 tensor holding
// float16 values, or float32 values for a guided_diffusion float32 block). `float32` selects the
// guided_diffusion fallback formula. Exposed for tests; (Nu, Nv) memory.
torch::Tensor pr_pairwise_distances(const torch::Tensor& u, const torch::Tensor& v, PrProtocol protocol,
                                    bool float32 = false);

// Manifold radii of one set, (N,) float32: the (k+1)-th smallest distance of each row (guided_diffusion:
// squared, stylegan2_ada: Euclidean, both float16-valued where no fallback happened).
torch::Tensor manifold_radii(const torch::Tensor& features, const PrecisionRecallOptions& options = {});

// reference, generated: (N1, D), (N2, D) floating, finite, on one device. InputError for a width
// mismatch, fewer than k + 1 rows in a set, NaN/Inf features, bad options.
PrecisionRecallResult precision_recall(const torch::Tensor& reference, const torch::Tensor& generated,
                                       const PrecisionRecallOptions& options = {});

}  // namespace cmbench

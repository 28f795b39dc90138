// Kernel Inception Distance (Bińkowski et al. 2018) as torch-fidelity computes it (metric_kid.py):
// cubic polynomial kernel k(x, y) = (gamma x.y + coef0)^degree with gamma = 1/D by default,
// `subsets` random subsets of `subset_size` rows from each set, drawn in turn from one numpy
// RandomState(seed) as choice(N1, m, replace=False) then choice(N2, m, replace=False), the unbiased
// MMD^2 estimate per subset, and the mean and population std (ddof 0) of those estimates.
//
// Computed in float64 whatever the input dtype (torch-fidelity works in the features' dtype, float32
// for its Inception features; see tests/data/kid_pr/README.md for the measured difference).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace cmbench {

struct KidOptions {
  TORCH_ARG(int64_t, subsets) = 100;       // torch-fidelity's kid_subsets
  TORCH_ARG(int64_t, subset_size) = 1000;  // kid_subset_size; more than either set has is an InputError
  TORCH_ARG(int64_t, degree) = 3;
  TORCH_ARG(double, gamma) = 0.0;          // <= 0: 1 / D
  TORCH_ARG(double, coef0) = 1.0;
  TORCH_ARG(int64_t, seed) = 2020;         // torch-fidelity's rng_seed, in [0, 2^32 - 1]
};

struct KidResult {
  double mean = 0.0;
  double std = 0.0;               // population std (numpy's np.std, ddof 0)
  std::vector<double> subsets;    // the per-subset MMD^2 estimates, in draw order
};

// Unbiased MMD^2 from the three kernel matrices of one subset (m x m each, m >= 2):
// (sum offdiag K_XX + sum offdiag K_YY) / (m (m - 1)) - 2 sum K_XY / m^2.
double mmd2_unbiased(const torch::Tensor& k_xx, const torch::Tensor& k_xy, const torch::Tensor& k_yy);

// features_1, features_2: (N1, D), (N2, D) floating, finite, on any device. InputError for a
// dimension mismatch, a subset size above N1 or N2 or below 2, NaN/Inf features, bad options.
KidResult kernel_inception_distance(const torch::Tensor& features_1, const torch::Tensor& features_2,
                                    const KidOptions& options = {});

}  // namespace cmbench

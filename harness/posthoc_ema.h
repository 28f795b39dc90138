// EDM2's post-hoc EMA (Karras et al. 2024, "Analyzing and Improving the Training Dynamics of
// Diffusion Models", App. C; NVlabs/edm2 training/phema.py and reconstruct_phema.py): the power-function
// EMA profiles stored at every checkpoint are snapshots (time t_i in training images, exponent gamma_i);
// the profile for any other sigma_rel at the last snapshot time is the least-squares combination of
// them, and its weights are the same combination of the snapshots' tensors.
//
// The output is a checkpoint that samples like the last input one: its config and attributes, every
// weights group of it (model, ema, ema.<name>, target) copied unchanged, the training state
// (optimizer, ...) omitted, and one group per reconstruction named ema.posthoc-<sigma_rel with at
// least three decimals> (`cmbench sample --ema posthoc-0.050`). The name differs from EDM2's "phema"
// because suites already name their tracked power profiles phema-<sigma_rel>. The root attribute
// `posthoc_ema` (a JSON string) records the targets, their groups and the snapshots used.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness/run_folder.h"

namespace cmbench {

// One power-function EMA profile stored in one checkpoint.
struct PhemaSnapshot {
  std::string checkpoint;  // the file
  std::string group;       // e.g. "ema.phema-0.050"
  int64_t images = 0;      // training images seen when the checkpoint was written (step * train.batch)
  double sigma_rel = 0;    // the profile's relative standard deviation
};

// phema.py power_function_correlation (Eq. 151, Algorithm 3): the inner product of the normalized
// power-function EMA profiles ending at times a and b (any common unit) with relative stds a_/b_sigma_rel.
double power_function_correlation(double a_time, double a_sigma_rel, double b_time, double b_sigma_rel);

// phema.py solve_posthoc_coefficients (Algorithm 3): float64 [inputs, outputs], column j the weights of
// the input profiles (times in_times, stds in_sigma_rel) whose sum best approximates output profile j,
// normalized to sum 1. InputError when the sizes differ, a sigma_rel is not a power-EMA value, or the
// input profiles are linearly dependent (e.g. a repeated snapshot).
torch::Tensor solve_posthoc_coefficients(const std::vector<double>& in_times, const std::vector<double>& in_sigma_rel,
                                         const std::vector<double>& out_times, const std::vector<double>& out_sigma_rel);

// The group a reconstruction for `sigma_rel` is written to: "ema.posthoc-0.050".
std::string posthoc_ema_group(double sigma_rel);

// The run folder's checkpoints (ckpt-SSSSSSSS.h5), ascending steps.
std::vector<std::string> posthoc_snapshot_checkpoints(const RunFolder& folder);

// Every power-function EMA profile stored in `checkpoints`, ordered by (images, sigma_rel) as
// reconstruct_phema.py's list_input_pickles, snapshots at 0 images dropped as its reconstruct_phema
// does. Reads attributes and tensor shapes only; InputError naming the file when one is unreadable,
// lacks its config or step, or holds a network that differs from the first snapshot's.
std::vector<PhemaSnapshot> posthoc_snapshots(const std::vector<std::string>& checkpoints);

struct PosthocEmaResult {
  std::vector<std::string> groups;      // one per requested sigma_rel, in the order requested
  std::vector<PhemaSnapshot> snapshots;  // the inputs, in solve order
  int64_t images = 0;                    // the reconstruction time (the last snapshot's)
};

// Reconstructs every sigma_rel in one pass over the snapshots (one accumulator per target, float64)
// and writes `out` atomically. `progress`: a progress bar (stderr) over the checkpoints read.
PosthocEmaResult reconstruct_posthoc_emas(const std::vector<std::string>& checkpoints,
                                          const std::vector<double>& sigma_rels, const std::string& out,
                                          bool progress = true);

// Reconstructs EDM2's post-hoc EMA with relative std `sigma_rel` from the power-function EMA profiles
// stored in `checkpoints` (ascending steps); writes `out` (a checkpoint that samples like the last one)
// and returns the group name that holds the reconstruction. InputError (one line naming the file) when
// no checkpoint holds a power profile, the snapshots cannot be read, or the solve is ill-posed.
std::string reconstruct_posthoc_ema(const std::vector<std::string>& checkpoints, double sigma_rel, const std::string& out);

}  // namespace cmbench

// The folder of one training run (a `cmbench train --out` folder, a suite stage's stages/NAME):
//   ckpt-SSSSSSSS.h5              checkpoints by step (core/checkpoint.h), the newest resumes
//   training_log.csv              step,loss,grad_norm,lr,images_per_s every log_every steps
//   samples-nfeN-seedsA-B.npz     a suite's generated images per NFE and seed set (the default weights)
//   samples-ema-P-nfeN-seedsA-B.npz  the same for EMA profile (or post-hoc reconstruction) P
//   posthoc-ema.h5                a suite's EDM2 post-hoc EMA reconstructions (harness/posthoc_ema.h)
//   grid-nfeN.png                 a suite's 8x8 sample grid per NFE
//   curve-SSSSSSSS/               a suite's evaluation at curve step S (its samples; evaluation.curve_every)
// Every name is made here, so the trainer, the suite runner and their tests agree on the layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "results/records.h"

namespace cmbench {

class RunFolder {
 public:
  explicit RunFolder(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string checkpoint(int64_t step) const;
  std::string latest_checkpoint() const;  // the highest step, "" when none
  std::string training_log() const;
  // seed_set as "A-B"; `profile` "" for the checkpoint's default weights.
  std::string samples(int64_t nfe, const std::string& seed_set, const std::string& profile = "") const;
  std::string grid(int64_t nfe) const;
  std::string posthoc_ema() const;
  // The folder of the evaluation at training step `step` of a metric curve (samples of their own, so
  // that the final evaluation's are not overwritten).
  RunFolder curve(int64_t step) const;

 private:
  std::string path_;
};

// training_log.csv rows. The store keeps the curve exactly as logged: a point is what its line says.
inline constexpr const char* kTrainingLogHeader = "step,loss,grad_norm,lr,images_per_s";
std::string training_log_line(const results::TrainingPoint& point);
results::TrainingPoint parse_training_log_line(const std::string& line, const std::string& path);

}  // namespace cmbench

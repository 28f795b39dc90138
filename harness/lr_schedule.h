// Learning-rate schedules: constant; EDM's linear warm-up over images (lr min(images / warmup, 1),
// images counted before the step, so the first step has lr 0); ECT ImageNet-64's and EDM2's inverse
// square root lr_ref / sqrt(max(step / lr_ref_steps, 1)), times EDM2's ramp-up min(images /
// rampup_images, 1) when rampup_images > 0 (NVlabs/edm2 training/training_loop.py,
// learning_rate_schedule: ref_batches = lr_ref_steps, rampup_Mimg = rampup_images / 1e6).
#pragma once

#include <cstdint>
#include <string>

#include "core/config_reader.h"

namespace cmbench {

struct LrSchedule {
  std::string kind = "constant";  // constant | warmup | inverse_sqrt
  double base_lr = 1e-4;
  double warmup_images = 10e6;
  double ref_steps = 2000;
  double rampup_images = 0;  // inverse_sqrt only; 0 = no ramp-up
  // The rate of the step that follows `step` completed steps and `images_before` images.
  double lr(int64_t step, int64_t images_before) const;
};

// From the `train` table: lr, lr_schedule, warmup_images, lr_ref_steps, rampup_images (declared in
// `train`, which the trainer finishes).
LrSchedule read_lr_schedule(ConfigReader& train);

}  // namespace cmbench

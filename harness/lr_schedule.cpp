#include "harness/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace cmbench {

double LrSchedule::lr(int64_t step, int64_t images_before) const {
  if (kind == "warmup") return base_lr * std::min(static_cast<double>(images_before) / std::max(warmup_images, 1e-8), 1.0);
  if (kind == "inverse_sqrt") {
    const double decayed = base_lr / std::sqrt(std::max(static_cast<double>(step) / ref_steps, 1.0));
    if (rampup_images <= 0) return decayed;
    return decayed * std::min(static_cast<double>(images_before) / rampup_images, 1.0);
  }
  return base_lr;
}

LrSchedule read_lr_schedule(ConfigReader& train) {
  LrSchedule s;
  s.kind = train.choice("lr_schedule", s.kind, {"constant", "warmup", "inverse_sqrt"});
  s.base_lr = train.get<double>("lr", s.base_lr);
  s.warmup_images = train.get<double>("warmup_images", s.warmup_images);
  s.ref_steps = train.get<double>("lr_ref_steps", s.ref_steps);
  s.rampup_images = train.get<double>("rampup_images", s.rampup_images);
  if (s.rampup_images < 0) throw InputError(train.where("rampup_images") + ": train.rampup_images must be >= 0");
  if (!(s.ref_steps > 0)) throw InputError(train.where("lr_ref_steps") + ": train.lr_ref_steps must be > 0");
  return s;
}

}  // namespace cmbench

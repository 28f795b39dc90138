// Pillow 9.4's Image.resize for 8-bit images (libImaging/Resample.c, ImagingResample): a separable
// two-pass resampling, horizontal then vertical, each pass skipped when its size is unchanged;
// bit-exact with PIL for any channel count (PIL resamples every band of RGB the same way).
#pragma once

#include "data/decoded_image.h"

namespace cmbench {

enum class ResampleFilter {
  box,      // PIL.Image.Resampling.BOX
  bicubic,  // BICUBIC, a = -0.5
  lanczos,  // LANCZOS, a = 3
};

// `image` resized to width x height (both >= 1); a copy when the size is already that.
DecodedImage pil_resize(const DecodedImage& image, int64_t width, int64_t height, ResampleFilter filter);

}  // namespace cmbench

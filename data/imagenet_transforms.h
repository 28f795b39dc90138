// The crop and resize modes of EDM2's dataset_tool.py (make_transform), PIL's arithmetic exactly
// (data/pil_resample.h): what `cmbench data convert --transform MODE --resolution WxH` applies.
#pragma once

#include <string>

#include "data/decoded_image.h"

namespace cmbench {

enum class ImageTransform {
  scale,                 // no --transform: LANCZOS to WxH (`scale`), unchanged without a resolution
  center_crop,           // EDM's `center_crop`: square centre crop, LANCZOS to WxH
  center_crop_dhariwal,  // `center_crop_imagenet`: guided-diffusion's center_crop_arr (ADM)
};

struct TransformSpec {
  ImageTransform transform = ImageTransform::scale;
  int64_t width = 0;  // 0 (with height 0): keep the source's size, only for `scale`
  int64_t height = 0;

  bool has_resolution() const { return width > 0; }
};

// The --transform and --resolution values ("" when not given), checked as make_transform does:
// InputError for an unknown mode, a resolution that is not WxH (or W,H), a crop without a resolution,
// or center-crop-dhariwal with W != H.
TransformSpec parse_transform_spec(const std::string& transform, const std::string& resolution);

// A 1-channel image replicated to RGB (PIL's convert('RGB') of mode L); RGB unchanged.
DecodedImage to_rgb(DecodedImage image);

// The transform applied to an RGB image.
DecodedImage apply_transform(const DecodedImage& rgb, const TransformSpec& spec);

// The steps, for tests: S is the output side.
DecodedImage center_crop_dhariwal(const DecodedImage& rgb, int64_t size);
DecodedImage center_crop_edm(const DecodedImage& rgb, int64_t width, int64_t height);

}  // namespace cmbench

// The named ImageNet-64 sources under the data root (data/data_root.h), data/README.md:
//   imagenet64:SPLIT              $ROOT/imagenet/imagenet-64x64-dhariwal-SPLIT.zip  EDM2's center-crop-dhariwal zip
//   imagenet64-edm:SPLIT          $ROOT/imagenet/imagenet-64x64-edm-SPLIT.zip       EDM's center-crop zip
//   imagenet64-downsampled:SPLIT  $ROOT/imagenet/downsampled-64x64/SPLIT/*.npz      Chrabaszcz et al. 2017 batches
// with SPLIT train or val.
#pragma once

#include <memory>
#include <string>

#include "data/image_source.h"

namespace cmbench {

bool is_imagenet_source_name(const std::string& spec);  // one of the three prefixes and a colon

// The file (or folder, for the downsampled batches) a name stands for under `root`; InputError for an
// unknown split.
std::string imagenet_source_path(const std::string& spec, const std::string& root);

// Opens it; when it is missing, one InputError line naming the expected path and how to make it.
std::unique_ptr<ImageSource> open_imagenet_source(const std::string& spec);

}  // namespace cmbench

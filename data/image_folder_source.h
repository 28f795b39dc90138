// A folder tree of raw images (ILSVRC2012's train/n01440764/n01440764_10026.JPEG, ...) read as EDM2's
// dataset_tool.py open_image_folder reads it, and any image input passed through one of its transforms
// (data/imagenet_transforms.h): the sources `cmbench data convert --transform/--resolution` writes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/decoded_image.h"
#include "data/image_source.h"
#include "data/imagenet_transforms.h"

namespace cmbench {

struct ImageFolderListing {
  std::vector<std::string> files;  // paths relative to the folder, '/'-separated, sorted
  std::vector<int64_t> labels;     // one per file, or empty when the folder gives none
};

// open_image_folder: every file below `folder` (recursively, following links) whose extension PIL 9.4
// registers, sorted by path; labels from `folder`/dataset.json when it has any, else the index of
// the file's top-level folder name in the sorted unique names (none when there is only one name).
// InputError when `folder` is not a folder or holds no image.
ImageFolderListing list_image_folder(const std::string& folder);

// True when `path` is a folder holding an image file that is not a PNG (JPEG, ...): a tree that only
// the EDM2 folder walk reads (PNG-only folders are also PNG folder sources, data/png_sources.cpp).
bool is_raw_image_folder(const std::string& path);

// One JPEG or PNG file, recognised by its content (ILSVRC2012 holds PNG and CMYK files named .JPEG),
// as PIL's Image.open(path).convert('RGB'). InputError naming the file for anything else.
DecodedImage decode_image_file(const std::string& path);

// `spec` (a folder holding image files, walked as list_image_folder, or else any image source of
// open_image_source, converted to RGB) with the transform applied to every image, decoded on the fly. Output geometry: the spec's resolution, or
// the first image's size when it has none (then every image must have it); as dataset_tool, it must
// be square with a power-of-two side.
std::unique_ptr<ImageSource> open_transformed_source(const std::string& spec, const TransformSpec& transform);

}  // namespace cmbench

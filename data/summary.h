// What `cmbench data info` reports about an image source: count, resolution, label histogram and the
// content checksum (sha256 of the uint8 NHWC bytes of every image, in order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image_source.h"

namespace cmbench {

struct SourceSummary {
  std::string name;
  int64_t count = 0, height = 0, width = 0, channels = 0;
  bool has_labels = false;
  std::vector<int64_t> label_counts;  // index = class, up to the largest label
  std::string content_sha256;
};

std::string content_sha256(const ImageSource& source, bool progress = true, int64_t chunk = 1024);
SourceSummary summarize(const ImageSource& source, bool progress = true);

}  // namespace cmbench

// Writes an image source in the layout of EDM's dataset_tool.py: stored (uncompressed) zip entries
// `00000/img00000000.png`, ... (1000 per folder prefix of five digits) plus `dataset.json` with
// {"labels": [[entry name, class], ...]} or {"labels": null}. Atomic: OUT.zip appears complete or not at all;
// its folder is made when missing (as dataset_tool's open_dest).
#pragma once

#include <string>

#include "data/image_source.h"

namespace cmbench {

std::string edm_zip_entry_name(int64_t index);
void write_edm_zip(const ImageSource& source, const std::string& path, bool progress = true);

}  // namespace cmbench

// Reading zip members (npz arrays, EDM dataset zips) without trusting the sizes the archive declares:
// no allocation is sized from a header before the size is checked against the archive file.
#pragma once

#include <zip.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench {

// zip_stat of member `index`, with its declared sizes checked: the compressed size fits in the
// archive file, a stored member is as long as its compressed data, a deflated one no longer than
// deflate can expand it to. InputError naming `source` otherwise.
zip_stat_t checked_zip_stat(zip_t* zip, zip_uint64_t index, const std::string& archive, const std::string& source);

// The whole member (its CRC checked), or its first `prefix` bytes when `prefix` > 0. The buffer grows
// with the data actually inflated, so a size a header lies about never decides an allocation.
std::vector<uint8_t> read_zip_member(zip_t* zip, zip_uint64_t index, const std::string& archive,
                                     const std::string& source, size_t prefix = 0);

}  // namespace cmbench

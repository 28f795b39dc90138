// Reading members of tar / tar.gz / zip archives with libarchive, without unpacking to disk.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace cmbench {

// The members whose path `wanted` accepts, keyed by path. InputError naming the archive when it is
// corrupted or truncated.
std::map<std::string, std::vector<uint8_t>> read_archive_members(
    const std::string& archive, const std::function<bool(const std::string&)>& wanted);

}  // namespace cmbench

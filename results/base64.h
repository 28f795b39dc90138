// Base64 (RFC 4648, with padding), for data URIs in the self-contained HTML report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench::results {

std::string base64_encode(const std::vector<uint8_t>& bytes);

}  // namespace cmbench::results

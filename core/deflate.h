// What a deflate (zlib) stream can hold: the bound every reader of zip members and PNG data uses to
// check a declared size against the compressed bytes before allocating for it.
#pragma once
#include <cstdint>

namespace cmbench {

// Deflate's largest expansion: one 258-byte match per 2 bits, about 1032:1 (zlib's technical notes).
inline constexpr uint64_t kMaxDeflateRatio = 1032;

}  // namespace cmbench

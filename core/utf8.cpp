#include "core/utf8.h"

#include <cstddef>

namespace cmbench {

bool is_utf8(std::string_view s) {
  size_t i = 0;
  const auto byte = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const auto tail = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  while (i < s.size()) {
    const unsigned c = byte(0);
    size_t length = 1;
    if (c < 0x80) length = 1;
    else if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c >= 0xE0 && c <= 0xEF) length = 3;
    else if (c >= 0xF0 && c <= 0xF4) length = 4;
    else return false;
    for (size_t k = 1; k < length; ++k)
      if (!tail(k)) return false;
    const unsigned second = byte(1);
    if ((c == 0xE0 && second < 0xA0) || (c == 0xED && second > 0x9F) || (c == 0xF0 && second < 0x90) ||
        (c == 0xF4 && second > 0x8F))
      return false;
    i += length;
  }
  return true;
}

}  // namespace cmbench

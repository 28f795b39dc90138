// UTF-8 validation for text that arrives from outside (--set values, HDF5 string attributes and
// columns): what becomes JSON, a table or an HTML page must be well-formed.
#pragma once
#include <string_view>

namespace cmbench {

// Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view s);

}  // namespace cmbench

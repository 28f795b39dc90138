#include "core/npy_zip.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "core/deflate.h"
#include "core/error.h"

namespace cmbench {


zip_stat_t checked_zip_stat(zip_t* zip, zip_uint64_t index, const std::string& archive, const std::string& source) {
  zip_stat_t st;
  zip_stat_init(&st);
  constexpr zip_uint64_t kNeeded = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
  if (zip_stat_index(zip, index, 0, &st) != 0 || (st.valid & kNeeded) != kNeeded) {
    throw InputError(fmt::format("{}: cannot read the archive entry: {}", source, zip_strerror(zip)));
  }
  std::error_code ec;
  const uint64_t archive_size = std::filesystem::file_size(archive, ec);
  if (ec) throw InputError(fmt::format("{}: cannot read the size: {}", archive, ec.message()));
  if (st.comp_size > archive_size) {
    throw InputError(fmt::format("{}: entry declares {} compressed bytes, the archive holds {} (corrupted)", source,
                                 st.comp_size, archive_size));
  }
  if (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size) {
    throw InputError(fmt::format("{}: stored entry declares {} bytes but holds {} (corrupted)", source, st.size,
                                 st.comp_size));
  }
  if (st.comp_method == ZIP_CM_DEFLATE && st.size / kMaxDeflateRatio > st.comp_size) {
    throw InputError(fmt::format("{}: entry declares {} bytes, more than its {} deflated bytes can hold (corrupted)",
                                 source, st.size, st.comp_size));
  }
  return st;
}

std::vector<uint8_t> read_zip_member(zip_t* zip, zip_uint64_t index, const std::string& archive,
                                     const std::string& source, size_t prefix) {
  const zip_stat_t st = checked_zip_stat(zip, index, archive, source);
  const uint64_t want = prefix ? std::min<uint64_t>(prefix, st.size) : st.size;
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(zip, index, 0), zip_fclose);
  if (!file) throw InputError(fmt::format("{}: cannot open the archive entry: {}", source, zip_strerror(zip)));
  constexpr uint64_t kChunk = uint64_t{1} << 20;
  std::vector<uint8_t> bytes;
  // A whole entry is read one byte past its size: reaching the end makes libzip check the CRC.
  const uint64_t limit = prefix ? want : want + 1;
  while (bytes.size() < limit) {
    const size_t start = bytes.size();
    bytes.resize(start + static_cast<size_t>(std::min(kChunk, limit - start)));
    const zip_int64_t got = zip_fread(file.get(), bytes.data() + start, bytes.size() - start);
    if (got < 0) throw InputError(fmt::format("{}: corrupted archive entry: {}", source, zip_file_strerror(file.get())));
    bytes.resize(start + static_cast<size_t>(got));
    if (got == 0) break;
  }
  if (bytes.size() != want) {
    throw InputError(fmt::format("{}: corrupted archive entry: {} bytes, {} declared", source, bytes.size(), want));
  }
  return bytes;
}

}  // namespace cmbench

#include "data/archive_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

std::map<std::string, std::vector<uint8_t>> read_archive_members(
    const std::string& archive, const std::function<bool(const std::string&)>& wanted) {
  std::unique_ptr<struct archive, int (*)(struct archive*)> reader(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_all(reader.get());
  if (archive_read_open_filename(reader.get(), archive.c_str(), 1 << 16) != ARCHIVE_OK) {
    throw InputError(fmt::format("{}: cannot open archive: {}", archive, archive_error_string(reader.get())));
  }
  std::map<std::string, std::vector<uint8_t>> members;
  archive_entry* entry = nullptr;
  int status = ARCHIVE_OK;
  while ((status = archive_read_next_header(reader.get(), &entry)) == ARCHIVE_OK) {
    const char* path = archive_entry_pathname(entry);
    if (!path || !wanted(path)) continue;
    std::vector<uint8_t> bytes;
    // The declared size is only a hint: a header must not decide a large allocation on its own.
    constexpr la_int64_t kMaxReserve = la_int64_t{1} << 26;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      bytes.reserve(static_cast<size_t>(std::min(archive_entry_size(entry), kMaxReserve)));
    }
    uint8_t buffer[1 << 16];
    la_ssize_t got = 0;
    while ((got = archive_read_data(reader.get(), buffer, sizeof buffer)) > 0) bytes.insert(bytes.end(), buffer, buffer + got);
    if (got < 0) {
      throw InputError(fmt::format("{}: corrupted member {}: {}", archive, path, archive_error_string(reader.get())));
    }
    members.emplace(path, std::move(bytes));
  }
  if (status != ARCHIVE_EOF) {
    throw InputError(fmt::format("{}: corrupted or truncated archive: {}", archive, archive_error_string(reader.get())));
  }
  return members;
}

}  // namespace cmbench

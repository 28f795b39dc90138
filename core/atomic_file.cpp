#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError(fmt::format("{}: cannot open for fsync: {}", path, std::strerror(errno)));
  ::fsync(fd);
  ::close(fd);
}

void atomic_write(const std::string& path, const std::function<void(const std::string&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string temporary =
      (folder / fmt::format(".{}.tmp.{}", target.filename().string(), ::getpid())).string();
  try {
    write(temporary);
    fsync_path(temporary);
    std::error_code ec;
    fs::rename(temporary, target, ec);
    if (ec) throw InputError(fmt::format("{}: cannot rename into place: {}", path, ec.message()));
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  try {
    fsync_path(folder.string());
  } catch (const Error&) {
    // The rename happened; a folder that cannot be opened for fsync (unusual mounts) is not fatal.
  }
}

void atomic_write_bytes(const std::string& path, const void* data, size_t size) {
  atomic_write(path, [&](const std::string& temporary) {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(fmt::format("{}: cannot create file", temporary));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.flush();
    if (!out) throw InputError(fmt::format("{}: write failed", temporary));
  });
}

}  // namespace cmbench

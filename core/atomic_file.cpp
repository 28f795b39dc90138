#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError(fmt::format("{}: cannot open for fsync: {}", path, std::strerror(errno)));
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0) throw InputError(fmt::format("{}: fsync failed: {}", path, std::strerror(error)));
}

namespace {

// Bytes free to unprivileged writers on the file system holding `folder` (-1 when unknown).
int64_t free_bytes(const std::string& folder) {
  struct statvfs info {};
  if (::statvfs(folder.c_str(), &info) != 0) return -1;
  return static_cast<int64_t>(info.f_bavail) * static_cast<int64_t>(info.f_frsize);
}

// A write that failed on a full disk says so, whatever layer (HDF5, a stream) reported it: writers
// under the libraries lose errno, so a full file system is also recognised by its free space,
// measured while the partial temporary file still holds its blocks.
constexpr int64_t kFullDiskBytes = 1 << 16;

}  // namespace

void atomic_write(const std::string& path, const std::function<void(const std::string&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string temporary =
      (folder / fmt::format(".{}.tmp.{}", target.filename().string(), ::getpid())).string();
  try {
    errno = 0;
    write(temporary);
    fsync_path(temporary);
    std::error_code ec;
    fs::rename(temporary, target, ec);
    if (ec) throw InputError(fmt::format("{}: cannot rename into place: {}", path, ec.message()));
  } catch (const Error& e) {
    const bool disk_full = errno == ENOSPC || errno == EDQUOT ||
                           (free_bytes(folder.string()) >= 0 && free_bytes(folder.string()) < kFullDiskBytes);
    std::error_code ignored;
    fs::remove(temporary, ignored);
    if (disk_full) {
      throw InputError(fmt::format("{}: the disk is full ({}; {} bytes free in {} after removing the partial file); "
                                   "the previous file is kept",
                                   path, std::strerror(ENOSPC), free_bytes(folder.string()), folder.string()));
    }
    throw;
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

// Atomic replacement of a file: write to a temporary name beside it, fsync, rename over the target,
// fsync the folder. A crash leaves either the old file or the new one, never a partial one.
#pragma once

#include <functional>
#include <string>

namespace cmbench {

// Calls `write(temporary_path)`; on success fsyncs and renames onto `path`. On any exception the
// temporary file is removed and the exception propagates; `path` is untouched.
void atomic_write(const std::string& path, const std::function<void(const std::string&)>& write);
void atomic_write_bytes(const std::string& path, const void* data, size_t size);
void fsync_path(const std::string& path);

}  // namespace cmbench

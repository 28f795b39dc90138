// An exclusive advisory lock (flock) on a side file, held for the object's lifetime. Released by
// the kernel when the process dies, so a killed writer never leaves the store locked.
#pragma once

#include <string>

namespace cmbench::results {

class StoreLock {
 public:
  explicit StoreLock(const std::string& store_path);  // locks store_path + ".lock", waiting if needed
  ~StoreLock();
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace cmbench::results

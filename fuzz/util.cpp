#include "fuzz/util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <H5Cpp.h>
#include <fmt/format.h>

#include "core/log.h"

namespace cmbench::fuzz {
namespace fs = std::filesystem;

namespace {
struct Scratch {
  std::string path;
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    path = (fs::path(tmp && *tmp ? tmp : "/tmp") / fmt::format("cmbench-fuzz-{}", ::getpid())).string();
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
Scratch& scratch() {
  static Scratch instance;
  return instance;
}
}  // namespace

void init_once() {
  static const bool done = [] {
    init_logging("off");
    scratch();
    return true;
  }();
  (void)done;
}

const std::string& scratch_dir() { return scratch().path; }

std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const fs::path path = fs::path(scratch_dir()) / name;
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path.string();
}

std::string write_hdf5_input(const uint8_t* data, size_t size) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (size > kMaxInputBytes) return "";
  return write_input(data, size, "X.h5");
}

void clear_scratch() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(scratch_dir(), ec)) fs::remove_all(entry.path(), ec);
}

}  // namespace cmbench::fuzz

#include "data/npy_lazy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_zip.h"

namespace cmbench {

namespace {

// The text after `'key':` in a numpy header dict, up to the next top-level comma or closing brace.
std::string dict_value(const std::string& header, const std::string& key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return {};
  at = header.find(':', at);
  if (at == std::string::npos) return {};
  ++at;
  int depth = 0;
  size_t end = at;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string value = header.substr(at, end - at + (header[end] == ')' ? 1 : 0));
  const auto first = value.find_first_not_of(' ');
  const auto last = value.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& source) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
    throw InputError(fmt::format("{}: npy header has no valid shape", source));
  }
  std::vector<int64_t> shape;
  std::string number;
  for (size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      number += c;
    } else if (c == ',' || c == ')') {
      if (!number.empty()) shape.push_back(parse_npy_dimension(number, source));
      number.clear();
    } else if (c != ' ' && c != 'L') {
      throw InputError(fmt::format("{}: npy header has no valid shape", source));
    }
  }
  return shape;
}

class FileNpy : public LazyNpy {
 public:
  explicit FileNpy(const std::string& path) {
    source_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw InputError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    struct stat st {};
    try {
      if (::fstat(fd_, &st) != 0) throw InputError(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
      data_offset_ = parse_header([this](uint64_t o, uint64_t n, void* out) { pread_all(o, n, out); },
                                  static_cast<uint64_t>(st.st_size));
    } catch (...) {
      // A constructor that throws runs no destructor: a bad header must not leak the descriptor
      // (found by fuzz_npz: after ~1000 bad files, nothing could be opened).
      ::close(fd_);
      throw;
    }
  }
  ~FileNpy() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void read(uint64_t offset, uint64_t size, void* out) const override { pread_all(data_offset_ + offset, size, out); }

 private:
  void pread_all(uint64_t offset, uint64_t size, void* out) const {
    auto* dst = static_cast<char*>(out);
    while (size > 0) {
      const ssize_t got = ::pread(fd_, dst, size, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw InputError(fmt::format("{}: read failed (truncated?)", source_));
      dst += got;
      offset += static_cast<uint64_t>(got);
      size -= static_cast<uint64_t>(got);
    }
  }
  int fd_ = -1;
  uint64_t data_offset_ = 0;
};

// A member of a zip archive. Stored members are read in place by seeking (one reader at a time,
// libzip handles are not thread-safe); compressed members are inflated into memory once.
class ZipMemberNpy : public LazyNpy {
 public:
  ZipMemberNpy(const std::string& path, const std::string& key) {
    source_ = path + ":" + key;
    int error = 0;
    zip_ = zip_open(path.c_str(), ZIP_RDONLY, &error);
    if (!zip_) throw InputError(fmt::format("{}: not a valid npz (zip) archive (libzip error {})", path, error));
    const std::string member = key + ".npy";
    const zip_int64_t index = zip_name_locate(zip_, member.c_str(), 0);
    if (index < 0) {
      zip_discard(zip_);
      throw InputError(fmt::format("{}: no array '{}'", path, key));
    }
    zip_stat_t st;
    try {
      st = checked_zip_stat(zip_, static_cast<zip_uint64_t>(index), path, source_);
      seekable_ = st.comp_method == ZIP_CM_STORE;
      if (!seekable_) memory_ = read_zip_member(zip_, static_cast<zip_uint64_t>(index), path, source_);
    } catch (...) {
      close();
      throw;
    }
    if (seekable_) {
      file_ = zip_fopen_index(zip_, static_cast<zip_uint64_t>(index), 0);
      if (!file_) {
        const std::string message = zip_strerror(zip_);
        close();
        throw InputError(fmt::format("{}: cannot open the member: {}", source_, message));
      }
    } else {
      close();
    }
    try {
      data_offset_ = parse_header([this](uint64_t o, uint64_t n, void* out) { raw_read(o, n, out); }, st.size);
    } catch (...) {
      close();
      throw;
    }
  }
  ~ZipMemberNpy() override { close(); }

  void read(uint64_t offset, uint64_t size, void* out) const override { raw_read(data_offset_ + offset, size, out); }

 private:
  void raw_read(uint64_t offset, uint64_t size, void* out) const {
    if (!seekable_) {
      if (offset + size > memory_.size()) throw InputError(fmt::format("{}: truncated member", source_));
      std::memcpy(out, memory_.data() + offset, size);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (zip_fseek(file_, static_cast<zip_int64_t>(offset), SEEK_SET) != 0 ||
        zip_fread(file_, out, size) != static_cast<zip_int64_t>(size)) {
      throw InputError(fmt::format("{}: read failed: {}", source_, zip_file_strerror(file_)));
    }
  }
  void close() {
    if (file_) zip_fclose(file_);
    if (zip_) zip_discard(zip_);
    file_ = nullptr;
    zip_ = nullptr;
  }

  zip_t* zip_ = nullptr;
  zip_file_t* file_ = nullptr;
  bool seekable_ = false;
  std::vector<uint8_t> memory_;
  uint64_t data_offset_ = 0;
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<LazyNpy> LazyNpy::open_file(const std::string& path) { return std::make_unique<FileNpy>(path); }

std::unique_ptr<LazyNpy> LazyNpy::open_npz_member(const std::string& path, const std::string& key) {
  return std::make_unique<ZipMemberNpy>(path, key);
}

int64_t LazyNpy::numel() const {
  int64_t n = 1;
  for (const int64_t d : shape_) n *= d;
  return n;
}

size_t LazyNpy::item_size() const { return std::stoul(descr_.substr(2)); }

uint64_t LazyNpy::parse_header(const RawReader& read_raw, uint64_t total_size) {
  uint8_t preamble[12] = {};
  if (total_size < 10) throw InputError(fmt::format("{}: too short to be an npy array", source_));
  read_raw(0, 10, preamble);
  if (std::memcmp(preamble, "\x93NUMPY", 6) != 0) throw InputError(fmt::format("{}: not an npy array (bad magic)", source_));
  const int major = preamble[6];
  uint64_t header_size = 0;
  uint64_t header_start = 10;
  if (major == 1) {
    header_size = preamble[8] | (preamble[9] << 8);
  } else if (major == 2 || major == 3) {
    if (total_size < 12) throw InputError(fmt::format("{}: truncated npy header", source_));
    read_raw(0, 12, preamble);
    header_size = static_cast<uint64_t>(preamble[8]) | (static_cast<uint64_t>(preamble[9]) << 8) |
                  (static_cast<uint64_t>(preamble[10]) << 16) | (static_cast<uint64_t>(preamble[11]) << 24);
    header_start = 12;
  } else {
    throw InputError(fmt::format("{}: unsupported npy version {}", source_, major));
  }
  if (header_start + header_size > total_size) throw InputError(fmt::format("{}: truncated npy header", source_));
  std::string header(header_size, '\0');
  read_raw(header_start, header_size, header.data());
  descr_ = dict_value(header, "descr");
  if (descr_.size() >= 2 && (descr_.front() == '\'' || descr_.front() == '"')) descr_ = descr_.substr(1, descr_.size() - 2);
  // A kind letter and a size of 1 to 16 bytes: what item_size() and the readers of the data rely on.
  const bool valid_descr = descr_.size() >= 3 && descr_.size() <= 4 && std::string("<>|=").find(descr_[0]) != std::string::npos &&
                           std::isalpha(static_cast<unsigned char>(descr_[1])) &&
                           std::all_of(descr_.begin() + 2, descr_.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                           std::stoul(descr_.substr(2)) >= 1 && std::stoul(descr_.substr(2)) <= 16;
  if (!valid_descr) throw InputError(fmt::format("{}: npy header has no valid dtype ('{}')", source_, descr_));
  if (descr_[0] == '>' && descr_.substr(1) != "u1" && descr_.substr(1) != "i1") {
    throw InputError(fmt::format("{}: big-endian arrays are not supported", source_));
  }
  if (descr_[0] == '=' || descr_[0] == '>') descr_[0] = descr_.substr(1, 2) == "u1" || descr_.substr(1, 2) == "i1" ? '|' : '<';
  if (dict_value(header, "fortran_order") == "True") {
    throw InputError(fmt::format("{}: Fortran-order arrays are not supported", source_));
  }
  shape_ = parse_shape(dict_value(header, "shape"), source_);
  const uint64_t data_offset = header_start + header_size;
  const uint64_t need = npy_data_bytes(shape_, item_size(), source_);
  if (total_size - data_offset < need) {
    throw InputError(fmt::format("{}: truncated: shape {} needs {} data bytes, the file holds {}", source_,
                                 fmt::join(shape_, "x"), need, total_size - data_offset));
  }
  return data_offset;
}

}  // namespace cmbench

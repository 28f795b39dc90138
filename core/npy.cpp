#include "core/npy.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/npy_zip.h"

namespace cmbench {

namespace {

struct DTypeInfo {
  DType dtype;
  char kind;
  size_t size;
  const char* name;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::boolean, 'b', 1, "bool"}, {DType::u8, 'u', 1, "uint8"},     {DType::i8, 'i', 1, "int8"},
    {DType::u16, 'u', 2, "uint16"},   {DType::i16, 'i', 2, "int16"},     {DType::u32, 'u', 4, "uint32"},
    {DType::i32, 'i', 4, "int32"},    {DType::u64, 'u', 8, "uint64"},    {DType::i64, 'i', 8, "int64"},
    {DType::f32, 'f', 4, "float32"},  {DType::f64, 'f', 8, "float64"},
};

const DTypeInfo& info(DType dtype) {
  for (const auto& i : kDTypes) {
    if (i.dtype == dtype) return i;
  }
  throw std::logic_error("unknown dtype");
}

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// Value text following 'key': in a numpy header dict, or empty when absent.
std::string header_value(const std::string& header, const std::string& key) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  for (const auto& q : quoted) {
    size_t at = header.find(q);
    if (at == std::string::npos) continue;
    at = header.find(':', at + q.size());
    if (at == std::string::npos) return {};
    ++at;
    while (at < header.size() && header[at] == ' ') ++at;
    if (at < header.size() && header[at] == '(') {
      const size_t close = header.find(')', at);
      return close == std::string::npos ? std::string() : header.substr(at, close - at + 1);
    }
    size_t end = at;
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
    std::string value = header.substr(at, end - at);
    while (!value.empty() && value.back() == ' ') value.pop_back();
    return value;
  }
  return {};
}

DType parse_descr(std::string descr, const std::string& source) {
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) descr = descr.substr(1, descr.size() - 2);
  if (descr.size() < 3) throw InputError(fmt::format("{}: unsupported npy dtype '{}'", source, descr));
  const char order = descr[0];
  const char kind = descr[1];
  size_t size = 0;
  try {
    size = std::stoul(descr.substr(2));
  } catch (...) {
    throw InputError(fmt::format("{}: unsupported npy dtype '{}'", source, descr));
  }
  if (order == '>' && size > 1) {
    throw InputError(fmt::format("{}: big-endian npy dtype '{}' is not supported", source, descr));
  }
  if (order != '<' && order != '|' && order != '=' && order != '>') {
    throw InputError(fmt::format("{}: unsupported npy dtype '{}'", source, descr));
  }
  for (const auto& i : kDTypes) {
    if (i.kind == kind && i.size == size) return i.dtype;
  }
  throw InputError(fmt::format("{}: unsupported npy dtype '{}'", source, descr));
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& source) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
    throw InputError(fmt::format("{}: npy header has no valid shape", source));
  }
  std::vector<int64_t> shape;
  std::string inner = text.substr(1, text.size() - 2);
  size_t start = 0;
  while (start < inner.size()) {
    size_t comma = inner.find(',', start);
    std::string part = inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
    if (!part.empty()) {
      if (!std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        throw InputError(fmt::format("{}: npy header has an invalid shape {}", source, text));
      }
      shape.push_back(parse_npy_dimension(part, source));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return shape;
}

std::string read_file_bytes(const std::string& path, std::vector<uint8_t>& out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "cannot open file";
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  out.resize(size);
  if (size && !in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size))) return "read failed";
  return {};
}

struct ZipCloser {
  void operator()(zip_t* z) const {
    if (z) zip_discard(z);
  }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

ZipHandle open_zip(const std::string& path) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    std::string message = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    if (error == ZIP_ER_NOENT || error == ZIP_ER_OPEN) throw InputError(fmt::format("{}: cannot open file", path));
    throw InputError(fmt::format("{}: not a valid npz (zip) archive: {}", path, message));
  }
  return ZipHandle(z);
}

std::string member_key(const std::string& name) {
  const std::string suffix = ".npy";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

}  // namespace

uint64_t npy_data_bytes(const std::vector<int64_t>& shape, size_t item_size, const std::string& source) {
  uint64_t nonzero = item_size;
  bool empty = false;
  for (const int64_t d : shape) {
    if (d < 0) throw InputError(fmt::format("{}: npy shape has a negative dimension {}", source, d));
    if (d == 0) {
      empty = true;
    } else if (nonzero > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(d)) {
      throw InputError(fmt::format("{}: npy shape is too large (over 2^63 bytes)", source));
    } else {
      nonzero *= static_cast<uint64_t>(d);
    }
  }
  return empty ? 0 : nonzero;
}

int64_t parse_npy_dimension(const std::string& digits, const std::string& source) {
  const bool valid = !digits.empty() && digits.size() <= 18 &&
                     std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!valid) throw InputError(fmt::format("{}: npy shape dimension '{}' is not a number below 10^18", source, digits));
  return std::stoll(digits);
}

size_t dtype_size(DType dtype) { return info(dtype).size; }
std::string dtype_name(DType dtype) { return info(dtype).name; }
std::string dtype_descr(DType dtype) {
  const auto& i = info(dtype);
  return fmt::format("{}{}{}", i.size == 1 ? '|' : '<', i.kind, i.size);
}

NpyArray::NpyArray(DType dtype_, std::vector<int64_t> shape_) : dtype(dtype_), shape(std::move(shape_)) {
  bytes.assign(static_cast<size_t>(numel()) * dtype_size(dtype), 0);
}

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

void NpyArray::check_type(DType want) const {
  if (want != dtype) {
    throw InputError(fmt::format("array of dtype {} accessed as {}", dtype_name(dtype), dtype_name(want)));
  }
}

std::string NpyArray::shape_string() const {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::vector<double> NpyArray::to_doubles() const {
  const auto n = static_cast<size_t>(numel());
  std::vector<double> out(n);
  auto fill = [&](auto tag) {
    using T = decltype(tag);
    const T* p = reinterpret_cast<const T*>(bytes.data());
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i]);
  };
  switch (dtype) {
    case DType::boolean: fill(uint8_t{}); break;
    case DType::u8: fill(uint8_t{}); break;
    case DType::i8: fill(int8_t{}); break;
    case DType::u16: fill(uint16_t{}); break;
    case DType::i16: fill(int16_t{}); break;
    case DType::u32: fill(uint32_t{}); break;
    case DType::i32: fill(int32_t{}); break;
    case DType::u64: fill(uint64_t{}); break;
    case DType::i64: fill(int64_t{}); break;
    case DType::f32: fill(float{}); break;
    case DType::f64: fill(double{}); break;
  }
  return out;
}

NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& source) {
  if (size < kMagicSize + 4 || std::memcmp(data, kMagic, kMagicSize) != 0) {
    throw InputError(fmt::format("{}: not an npy file (bad magic)", source));
  }
  const uint8_t major = data[6];
  size_t header_len = 0;
  size_t offset = 0;
  if (major == 1) {
    header_len = data[8] | (static_cast<size_t>(data[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw InputError(fmt::format("{}: truncated npy header", source));
    header_len = data[8] | (static_cast<size_t>(data[9]) << 8) | (static_cast<size_t>(data[10]) << 16) |
                 (static_cast<size_t>(data[11]) << 24);
    offset = 12;
  } else {
    throw InputError(fmt::format("{}: unsupported npy format version {}", source, int(major)));
  }
  if (offset + header_len > size) throw InputError(fmt::format("{}: truncated npy header", source));
  const std::string header(reinterpret_cast<const char*>(data + offset), header_len);
  const std::string descr = header_value(header, "descr");
  const std::string fortran = header_value(header, "fortran_order");
  const std::string shape_text = header_value(header, "shape");
  if (descr.empty() || fortran.empty() || shape_text.empty()) {
    throw InputError(fmt::format("{}: malformed npy header", source));
  }
  if (fortran == "True") throw InputError(fmt::format("{}: Fortran-order arrays are not supported", source));
  if (fortran != "False") throw InputError(fmt::format("{}: malformed npy header", source));
  NpyArray array;
  array.dtype = parse_descr(descr, source);
  array.shape = parse_shape(shape_text, source);
  const uint64_t want = npy_data_bytes(array.shape, dtype_size(array.dtype), source);
  const size_t have = size - offset - header_len;
  if (have < want) {
    throw InputError(fmt::format("{}: truncated npy data: shape {} needs {} bytes, found {}", source,
                                 array.shape_string(), want, have));
  }
  array.bytes.assign(data + offset + header_len, data + offset + header_len + want);
  return array;
}

std::vector<uint8_t> serialize_npy(const NpyArray& array) {
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                   dtype_descr(array.dtype), array.shape_string());
  // Pad with spaces so that magic + length + header + newline is a multiple of 64 (numpy's layout).
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  const size_t prefix = kMagicSize + 4;
  std::vector<uint8_t> out(prefix + header.size() + array.bytes.size());
  std::memcpy(out.data(), kMagic, kMagicSize);
  out[6] = 1;  // format version 1.0
  out[7] = 0;
  out[8] = static_cast<uint8_t>(header.size() & 0xff);
  out[9] = static_cast<uint8_t>(header.size() >> 8);
  std::memcpy(out.data() + prefix, header.data(), header.size());
  if (!array.bytes.empty()) std::memcpy(out.data() + prefix + header.size(), array.bytes.data(), array.bytes.size());
  return out;
}

NpyArray read_npy(const std::string& path) {
  std::vector<uint8_t> bytes;
  if (auto err = read_file_bytes(path, bytes); !err.empty()) throw InputError(fmt::format("{}: {}", path, err));
  return parse_npy(bytes.data(), bytes.size(), path);
}

void write_npy(const std::string& path, const NpyArray& array) {
  const auto bytes = serialize_npy(array);
  atomic_write_bytes(path, bytes.data(), bytes.size());
}

std::vector<std::string> npz_keys(const std::string& path) {
  auto z = open_zip(path);
  std::vector<std::string> keys;
  const zip_int64_t count = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* name = zip_get_name(z.get(), static_cast<zip_uint64_t>(i), 0);
    if (name) keys.push_back(member_key(name));
  }
  return keys;
}

NpzMap read_npz(const std::string& path, const std::vector<std::string>& keys) {
  auto z = open_zip(path);
  NpzMap out;
  const zip_int64_t count = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
      throw InputError(fmt::format("{}: cannot read archive entry {}", path, i));
    }
    const std::string key = member_key(st.name);
    if (!keys.empty() && std::find(keys.begin(), keys.end(), key) == keys.end()) continue;
    const std::string source = fmt::format("{}[{}]", path, key);
    const auto buffer = read_zip_member(z.get(), static_cast<zip_uint64_t>(i), path, source);
    out.emplace(key, parse_npy(buffer.data(), buffer.size(), source));
  }
  for (const auto& k : keys) {
    if (!out.count(k)) throw InputError(fmt::format("{}: missing array '{}'", path, k));
  }
  return out;
}

void write_npz(const std::string& path, const NpzMap& arrays, NpzCompression compression) {
  atomic_write(path, [&](const std::string& temporary) {
    int error = 0;
    zip_t* z = zip_open(temporary.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    if (!z) throw InputError(fmt::format("{}: cannot create archive", path));
    std::vector<std::vector<uint8_t>> buffers;  // must outlive zip_close
    buffers.reserve(arrays.size());
    for (const auto& [key, array] : arrays) {
      buffers.push_back(serialize_npy(array));
      auto& b = buffers.back();
      zip_source_t* src = zip_source_buffer(z, b.data(), b.size(), 0);
      const zip_int64_t index = src ? zip_file_add(z, (key + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8) : -1;
      if (index < 0) {
        if (src) zip_source_free(src);
        std::string message = zip_strerror(z);
        zip_discard(z);
        throw InputError(fmt::format("{}: cannot add '{}': {}", path, key, message));
      }
      zip_set_file_compression(z, static_cast<zip_uint64_t>(index),
                               compression == NpzCompression::deflated ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
      zip_file_set_mtime(z, static_cast<zip_uint64_t>(index), 315532800, 0);  // 1980-01-01, as numpy
    }
    if (zip_close(z) != 0) {
      std::string message = zip_strerror(z);
      zip_discard(z);
      throw InputError(fmt::format("{}: cannot write archive: {}", path, message));
    }
  });
}

}  // namespace cmbench

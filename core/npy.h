// NumPy .npy / .npz reading and writing (format version 1.0/2.0/3.0 headers; little-endian; C order).
// npz archives may be stored or deflated. No LibTorch here: see npy_torch.h for tensor conversion.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cmbench {

enum class DType { boolean, u8, i8, u16, i16, u32, i32, u64, i64, f32, f64 };

size_t dtype_size(DType dtype);
std::string dtype_descr(DType dtype);  // numpy descr, e.g. "<f4", "|u1"
std::string dtype_name(DType dtype);   // e.g. "float32", "uint8"

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::u16; }
template <> constexpr DType dtype_of<int16_t>() { return DType::i16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::u32; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::u64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

// One array: dtype, shape and the raw little-endian C-order bytes.
struct NpyArray {
  DType dtype = DType::u8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  NpyArray() = default;
  NpyArray(DType dtype, std::vector<int64_t> shape);  // zero-filled
  template <class T>
  static NpyArray from(const std::vector<int64_t>& shape, const T* values) {
    NpyArray a(dtype_of<T>(), shape);
    const auto* src = reinterpret_cast<const uint8_t*>(values);
    std::copy(src, src + a.bytes.size(), a.bytes.begin());
    return a;
  }
  int64_t numel() const;
  // Typed access; throws when T does not match dtype.
  template <class T> T* data() { check_type(dtype_of<T>()); return reinterpret_cast<T*>(bytes.data()); }
  template <class T> const T* data() const { check_type(dtype_of<T>()); return reinterpret_cast<const T*>(bytes.data()); }
  // Every element converted to double (any numeric dtype).
  std::vector<double> to_doubles() const;
  std::string shape_string() const;  // "(2, 3)"

 private:
  void check_type(DType want) const;
};

// `source` names the file (and archive member) in error messages.
// The byte count of a `shape` array of `item_size`-byte elements; InputError when it overflows 64 bits
// (the product of the non-zero dimensions is checked, so a zero dimension does not hide a huge one).
uint64_t npy_data_bytes(const std::vector<int64_t>& shape, size_t item_size, const std::string& source);
// One dimension of a numpy header shape (decimal digits only); InputError when it has no digits or
// does not fit in int64.
int64_t parse_npy_dimension(const std::string& digits, const std::string& source);

NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& source);
std::vector<uint8_t> serialize_npy(const NpyArray& array);

NpyArray read_npy(const std::string& path);
void write_npy(const std::string& path, const NpyArray& array);  // atomic

using NpzMap = std::map<std::string, NpyArray>;  // keys without the ".npy" suffix

// Reads every member (or only `keys`, when given; a listed key that is missing is an error).
NpzMap read_npz(const std::string& path, const std::vector<std::string>& keys = {});
std::vector<std::string> npz_keys(const std::string& path);
enum class NpzCompression { stored, deflated };
void write_npz(const std::string& path, const NpzMap& arrays,
               NpzCompression compression = NpzCompression::stored);  // atomic

}  // namespace cmbench

#include "core/hdf5_heap_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <vector>

#include "core/error.h"

namespace cmbench::h5 {
namespace {

constexpr std::array<uint8_t, 8> kSuperblockSignature = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
constexpr uint64_t kMinCollectionBytes = 4096;  // H5HG_MINSIZE

class FileBytes {
 public:
  explicit FileBytes(const std::string& path) : in_(path, std::ios::binary) {
    if (!in_) throw InputError(fmt::format("{}: cannot open for reading", path));
    in_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(in_.tellg());
  }
  uint64_t size() const { return size_; }
  // Up to `count` bytes from `offset` (fewer at the end of the file).
  std::vector<uint8_t> read(uint64_t offset, uint64_t count) {
    if (offset >= size_) return {};
    std::vector<uint8_t> bytes(static_cast<size_t>(std::min(count, size_ - offset)));
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<size_t>(in_.gcount()));
    return bytes;
  }

 private:
  std::ifstream in_;
  uint64_t size_ = 0;
};

uint64_t little_endian(const uint8_t* p, unsigned bytes) {
  uint64_t value = 0;
  for (unsigned i = 0; i < std::min(bytes, 8u); ++i) value |= uint64_t{p[i]} << (8 * i);
  return value;
}

// The superblock's "size of lengths" (bytes of every length field), or nothing without a superblock.
// The superblock is at byte 0, 512, 1024, 2048, ... (HDF5 format spec, "Disk Format: Level 0A").
std::optional<unsigned> size_of_lengths(FileBytes& file, const std::string& path) {
  for (uint64_t at = 0; at < file.size(); at = at == 0 ? 512 : at * 2) {
    const auto head = file.read(at, 16);
    if (head.size() < 16 || !std::equal(kSuperblockSignature.begin(), kSuperblockSignature.end(), head.begin())) continue;
    const unsigned version = head[8];
    const unsigned lengths = version <= 1 ? head[14] : head[10];
    if (lengths != 2 && lengths != 4 && lengths != 8 && lengths != 16) {
      throw InputError(fmt::format("{}: the HDF5 superblock declares {}-byte lengths (HDF5 uses 2, 4, 8 or 16)", path, lengths));
    }
    return lengths;
  }
  return std::nullopt;
}

// Walks one collection as H5HG's deserialize does (objects: index u16, reference count u16, 4
// reserved bytes, size; index 0 is free space, whose size includes its header; every other object
// is padded to 8 bytes).
void check_collection(FileBytes& file, uint64_t at, unsigned lengths, const std::string& path) {
  const uint64_t header = 8 + lengths, object_header = 8 + lengths;
  const auto head = file.read(at, header);
  if (head.size() < header) return;  // too near the end of the file to be a collection libhdf5 can load
  const auto damaged = [&](const std::string& what) {
    return InputError(fmt::format("{}: damaged HDF5 global heap collection at byte {}: {} (libhdf5 would not return on it)",
                                  path, at, what));
  };
  const uint64_t size = little_endian(head.data() + 8, lengths);
  if (size < kMinCollectionBytes || size > file.size() - at) {
    throw damaged(fmt::format("it declares {} bytes, outside {}..{}", size, kMinCollectionBytes, file.size() - at));
  }
  const auto body = file.read(at, size);
  uint64_t p = header;
  while (p < size) {
    if (size - p < object_header) break;  // a tail too small for an object header is free space
    const uint8_t* object = body.data() + p;
    const uint64_t index = little_endian(object, 2);
    const uint64_t object_size = little_endian(object + 8, lengths);
    if (lengths == 16 && little_endian(object + 16, 8) != 0) throw damaged(fmt::format("object at byte {} is larger than 2^64", at + p));
    const uint64_t left = size - p;
    uint64_t need = object_size;
    if (index > 0) {
      if (object_size > left) throw damaged(fmt::format("object {} of {} bytes ends past the collection", index, object_size));
      need = object_header + (object_size + 7) / 8 * 8;
    }
    if (need == 0) throw damaged(fmt::format("its free space at byte {} declares 0 bytes", at + p));
    if (need > left) throw damaged(fmt::format("object {} at byte {} ends past the collection", index, at + p));
    p += need;
  }
}

}  // namespace

void check_global_heaps(const std::string& path) {
  FileBytes file(path);
  const auto lengths = size_of_lengths(file, path);
  if (!lengths) return;
  // Signature and version: "GCOL", 1, then 3 reserved zero bytes.
  const std::array<uint8_t, 8> magic = {'G', 'C', 'O', 'L', 1, 0, 0, 0};
  constexpr uint64_t kPiece = uint64_t{8} << 20;
  const std::boyer_moore_horspool_searcher searcher(magic.begin(), magic.end());
  std::vector<uint64_t> found;
  for (uint64_t at = 0; at < file.size(); at += kPiece) {
    const auto piece = file.read(at, kPiece + magic.size() - 1);
    for (auto it = piece.begin();;) {
      it = std::search(it, piece.end(), searcher);
      if (it == piece.end()) break;
      const uint64_t offset = at + static_cast<uint64_t>(it - piece.begin());
      if (offset < at + kPiece) found.push_back(offset);
      ++it;
    }
  }
  for (const uint64_t at : found) check_collection(file, at, *lengths, path);
}

}  // namespace cmbench::h5

#include "core/hdf5_heap_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
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

struct Superblock {
  uint64_t offset = 0;  // where it is in the file; libhdf5 makes addresses relative to it
  unsigned lengths = 8;  // bytes of every length field
  // The end of allocation as libhdf5 computes it on open (H5Fsuper.c: the stored end-of-file
  // address, moved by the difference between the declared base address and the superblock's
  // offset); nothing when an address is undefined or wider than 8 bytes.
  std::optional<uint64_t> end_of_allocation;
};

// The superblock is at byte 0, 512, 1024, 2048, ... (HDF5 format spec, "Disk Format: Level 0A");
// nothing without one.
std::optional<Superblock> read_superblock(FileBytes& file, const std::string& path) {
  for (uint64_t at = 0; at < file.size(); at = at == 0 ? 512 : at * 2) {
    const auto head = file.read(at, 96);
    if (head.size() < 16 || !std::equal(kSuperblockSignature.begin(), kSuperblockSignature.end(), head.begin())) continue;
    Superblock superblock;
    superblock.offset = at;
    const unsigned version = head[8];
    const unsigned offsets = version <= 1 ? head[13] : head[9];
    superblock.lengths = version <= 1 ? head[14] : head[10];
    if (superblock.lengths != 2 && superblock.lengths != 4 && superblock.lengths != 8 && superblock.lengths != 16) {
      throw InputError(fmt::format("{}: the HDF5 superblock declares {}-byte lengths (HDF5 uses 2, 4, 8 or 16)", path,
                                   superblock.lengths));
    }
    // Version 0: base address at byte 24, then the free-space, end-of-file and driver addresses;
    // version 1 has 4 more bytes before them; versions 2 and 3: base, extension, end of file.
    const uint64_t base_at = version == 0 ? 24 : version == 1 ? 28 : 12;
    const uint64_t end_at = base_at + 2 * offsets;
    if (offsets >= 2 && offsets <= 8 && end_at + offsets <= head.size()) {
      const uint64_t base = little_endian(head.data() + base_at, offsets);
      const uint64_t stored_end = little_endian(head.data() + end_at, offsets);
      const uint64_t undefined = offsets == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * offsets)) - 1;
      // In libhdf5's unsigned arithmetic; a wrapped value exceeds the file, which it refuses as truncated.
      if (stored_end != undefined && base != undefined) superblock.end_of_allocation = stored_end - (base - at);
    }
    return superblock;
  }
  return std::nullopt;
}

// Walks one collection as H5HG's deserialize does (objects: index u16, reference count u16, 4
// reserved bytes, size; index 0 is free space, whose size includes its header; every other object
// is padded to 8 bytes).
void check_collection(FileBytes& file, uint64_t at, const Superblock& superblock, const std::string& path) {
  const unsigned lengths = superblock.lengths;
  const uint64_t header = 8 + lengths, object_header = 8 + lengths;
  const auto head = file.read(at, header);
  if (head.size() < header) return;  // too near the end of the file to be a collection libhdf5 can load
  const auto damaged = [&](const std::string& what, const char* consequence = "libhdf5 would not return on it") {
    return InputError(fmt::format("{}: damaged HDF5 global heap collection at byte {}: {} ({})", path, at, what,
                                  consequence));
  };
  const uint64_t size = little_endian(head.data() + 8, lengths);
  if (size < kMinCollectionBytes || size > file.size() - at) {
    throw damaged(fmt::format("it declares {} bytes, outside {}..{}", size, kMinCollectionBytes, file.size() - at));
  }
  // libhdf5 first reads 4096 bytes of a collection, cut short at the end of allocation, and asserts
  // that it got all 4096 (H5HGcache.c, get_final_load_size); builds with assertions, such as
  // Debian testing's libhdf5 2.2, abort there.
  if (superblock.end_of_allocation && at >= superblock.offset &&
      at - superblock.offset + size > *superblock.end_of_allocation) {
    throw damaged(fmt::format("it ends at byte {}, past the end of allocation its superblock declares (byte {})",
                              at + size, superblock.offset + *superblock.end_of_allocation),
                  "libhdf5 with assertions aborts on it");
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

constexpr const char* kDiskFormTag = "cmbench: a variable-length string as stored";

// A soft conversion from a variable-length string to an opaque type tagged kDiskFormTag, of the
// string's size on disk, that leaves the bytes as they are: what the read returns is the reference
// (sequence length, collection address, object index), and libhdf5 never visits the heap.
herr_t keep_disk_form(hid_t source, hid_t destination, H5T_cdata_t* cdata, size_t, size_t, size_t, void*, void*, hid_t) {
  if (cdata->command != H5T_CONV_INIT) return 0;
  if (H5Tis_variable_str(source) <= 0 || H5Tget_class(destination) != H5T_OPAQUE) return -1;
  char* tag = H5Tget_tag(destination);
  const bool ours = tag != nullptr && std::strcmp(tag, kDiskFormTag) == 0;
  H5free_memory(tag);
  if (!ours) return -1;
  cdata->need_bkg = H5T_BKG_NO;
  return 0;
}

H5::DataType disk_form_type(size_t bytes) {
  H5::DataType type(H5T_OPAQUE, bytes);
  type.setTag(kDiskFormTag);
  return type;
}

}  // namespace

void check_variable_length_reference(const H5::Attribute& attribute, const std::string& where,
                                     const std::string& name) {
  if (attribute.getTypeClass() != H5T_STRING || !attribute.getStrType().isVariableStr()) return;
  static std::once_flag registered;
  std::call_once(registered, [] {
    const H5::StrType string(H5::PredType::C_S1, H5T_VARIABLE);
    if (H5Tregister(H5T_PERS_SOFT, "cmbench: keep the disk form", string.getId(), disk_form_type(1).getId(),
                    keep_disk_form) < 0) {
      throw std::runtime_error("libhdf5 refused cmbench's conversion for reading variable-length references");
    }
  });
  // One reference: a 4-byte length, the collection's address, a 4-byte object index.
  const hsize_t bytes = attribute.getStorageSize();
  const hsize_t address_bytes = bytes - 8;
  if (bytes < 10 || address_bytes > 8) return;  // not one reference; libhdf5 reads or refuses it itself
  std::vector<uint8_t> reference(static_cast<size_t>(bytes));
  attribute.read(disk_form_type(static_cast<size_t>(bytes)), reference.data());
  const uint64_t collection = little_endian(reference.data() + 4, static_cast<unsigned>(address_bytes));
  const hid_t file = H5Iget_file_id(attribute.getId());
  haddr_t end = HADDR_UNDEF;
  const herr_t status = H5Fget_eoa(file, &end);
  H5Fclose(file);
  if (status < 0 || end == HADDR_UNDEF) return;
  if (collection != 0 && (collection > end || end - collection < kMinCollectionBytes)) {
    throw InputError(fmt::format("{}: attribute '{}' refers to a global heap collection at byte {}, but the file's "
                                 "allocation ends at byte {} (a collection takes at least {} bytes; libhdf5 with "
                                 "assertions aborts on it)",
                                 where, name, collection, end, kMinCollectionBytes));
  }
}

void check_global_heaps(const std::string& path) {
  FileBytes file(path);
  const auto superblock = read_superblock(file, path);
  if (!superblock) return;
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
  for (const uint64_t at : found) check_collection(file, at, *superblock, path);
}

}  // namespace cmbench::h5

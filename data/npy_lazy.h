// A .npy array whose data is read on demand: a standalone .npy file, or one member of an .npz. Keeps
// large image arrays (ImageNet-64 batches are over 1 GB each) out of memory until a range is asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cmbench {

class LazyNpy {
 public:
  virtual ~LazyNpy() = default;

  static std::unique_ptr<LazyNpy> open_file(const std::string& path);
  // `key` without ".npy". Stored members are read in place; deflated ones are inflated once.
  static std::unique_ptr<LazyNpy> open_npz_member(const std::string& path, const std::string& key);

  const std::string& source() const { return source_; }  // "file" or "file:key", for messages
  const std::string& descr() const { return descr_; }    // numpy descr, e.g. "|u1"
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  size_t item_size() const;

  // Copies `size` bytes starting at byte `offset` of the array data. Safe to call from several threads.
  virtual void read(uint64_t offset, uint64_t size, void* out) const = 0;

 protected:
  using RawReader = std::function<void(uint64_t offset, uint64_t size, void* out)>;
  // Parses the npy header through `read_raw` (bytes of the whole .npy stream, `total_size` long),
  // checks that the data is complete and returns the offset where it starts.
  uint64_t parse_header(const RawReader& read_raw, uint64_t total_size);

  std::string source_;
  std::string descr_;
  std::vector<int64_t> shape_;
};

}  // namespace cmbench

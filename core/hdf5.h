// Small HDF5 helpers (C++ API): tensors as datasets, scalar/string attributes, atomic file writes.
// Object timestamps are off so that equal content gives equal bytes.
#pragma once

#include <H5Cpp.h>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cmbench::h5 {

// Opens for reading; InputError naming the file when it is missing, not HDF5, or has a damaged global
// heap (check_global_heaps, core/hdf5_heap_check.h).
H5::H5File open_read(const std::string& path);

// While it lives, bounds the time spent reading `path`: a damaged file can make libhdf5 itself loop
// forever (as fuzz/regressions/checkpoint/global_heap_* did, which open_read now refuses first). When
// the limit passes first, a watchdog thread prints one line naming the file and the limit and ends the
// process with exit status 2 (bad input, as the command line reports an InputError); files being
// written are only ever replaced whole (write_atomic), so none is left partial.
class ReadDeadline {
 public:
  explicit ReadDeadline(const std::string& path);  // limit_for(the file's size)
  ReadDeadline(const std::string& path, std::chrono::milliseconds limit);
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;
  ~ReadDeadline();

  // 60 s, plus 1 s per 20 MB (a slow network file system's pace).
  static std::chrono::milliseconds limit_for(uint64_t file_bytes);

 private:
  struct Watch;
  std::shared_ptr<Watch> watch_;
  std::thread watchdog_;
  std::string path_;
};

// The file of the newest ReadDeadline still alive, on any thread; nothing when none is. The
// command line names it when libhdf5 itself fails an assertion (app/libhdf5_assertions.cpp).
std::optional<std::string> file_being_read();

// Writes a complete new file atomically (temporary file, fsync, rename). `fill` gets the open file,
// which is held in memory until it is closed and written out in one piece.
void write_atomic(const std::string& path, const std::function<void(H5::H5File&)>& fill);

// The largest dataset a reader allocates for, whatever the file declares.
inline constexpr uint64_t kMaxDatasetBytes = uint64_t{1} << 40;
// Deflate, the strongest filter h5py writes by default, compresses at most about 1032:1.
inline constexpr uint64_t kMaxCompressionRatio = 1100;

// The element count of a dataset, checked before a reader allocates for it: a simple or scalar
// dataspace, data in this file (no external or virtual storage), and a declared size that the file
// holds (at most kMaxCompressionRatio times its stored bytes when filtered) and that is below
// kMaxDatasetBytes. InputError naming the file, the dataset and the limit otherwise.
uint64_t checked_element_count(const H5::DataSet& dataset, const std::string& where);

// Tensor <-> dataset (float32, float64, int32, int64, uint8; any shape, including scalars).
void write_tensor(H5::Group& group, const std::string& name, const torch::Tensor& tensor);
torch::Tensor read_tensor(const H5::Group& group, const std::string& name);
std::vector<int64_t> dataset_shape(const H5::Group& group, const std::string& name);

// Sub-group, created when missing.
H5::Group require_group(H5::Group& parent, const std::string& name);
bool has_child(const H5::Group& group, const std::string& name);
std::vector<std::string> child_names(const H5::Group& group);  // sorted

// Attributes on files, groups and datasets.
void set_attribute(H5::H5Object& object, const std::string& name, const std::string& value);
void set_attribute(H5::H5Object& object, const std::string& name, double value);
void set_attribute(H5::H5Object& object, const std::string& name, int64_t value);
bool has_attribute(const H5::H5Object& object, const std::string& name);
std::string get_string_attribute(const H5::H5Object& object, const std::string& name);
double get_double_attribute(const H5::H5Object& object, const std::string& name);
int64_t get_int_attribute(const H5::H5Object& object, const std::string& name);

// Dataset creation properties with object timestamps off.
H5::DSetCreatPropList untimed_dataset_properties();

}  // namespace cmbench::h5

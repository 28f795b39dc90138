#include "core/hdf5.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hdf5_heap_check.h"
#include "core/utf8.h"

namespace cmbench::h5 {

namespace {

struct SilenceHdf5 {
  SilenceHdf5() { H5::Exception::dontPrint(); }
};
const SilenceHdf5 silence_hdf5;

H5::PredType h5_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return H5::PredType::NATIVE_FLOAT;
    case torch::kFloat64: return H5::PredType::NATIVE_DOUBLE;
    case torch::kInt32: return H5::PredType::NATIVE_INT32;
    case torch::kInt64: return H5::PredType::NATIVE_INT64;
    case torch::kUInt8: return H5::PredType::NATIVE_UINT8;
    default: break;
  }
  throw InputError(fmt::format("tensor dtype {} cannot be stored in HDF5", c10::toString(type)));
}

std::string object_name(const H5::H5Object& object) {
  try {
    return object.getFileName() + ":" + object.getObjName();
  } catch (const H5::Exception&) {
    return "<hdf5 object>";
  }
}

// The attribute `name`, which must exist and hold one value (the getters read exactly one).
H5::Attribute open_single_value(const H5::H5Object& object, const std::string& name) {
  if (!object.attrExists(name)) throw InputError(fmt::format("{}: missing attribute '{}'", object_name(object), name));
  H5::Attribute attribute = object.openAttribute(name);
  if (attribute.getSpace().getSimpleExtentNpoints() != 1)
    throw InputError(fmt::format("{}: attribute '{}' holds {} values, not one", object_name(object), name,
                                 attribute.getSpace().getSimpleExtentNpoints()));
  return attribute;
}

std::mutex files_being_read_mutex;
std::vector<std::string> files_being_read;

}  // namespace

std::optional<std::string> file_being_read() {
  const std::lock_guard<std::mutex> lock(files_being_read_mutex);
  if (files_being_read.empty()) return std::nullopt;
  return files_being_read.back();
}

struct ReadDeadline::Watch {
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;
};

std::chrono::milliseconds ReadDeadline::limit_for(uint64_t file_bytes) {
  return std::chrono::seconds(60) + std::chrono::milliseconds(file_bytes / 20'000);
}

ReadDeadline::ReadDeadline(const std::string& path)
    : ReadDeadline(path, limit_for([&] {
                     std::error_code ec;
                     const auto size = std::filesystem::file_size(path, ec);
                     return ec ? uint64_t{0} : static_cast<uint64_t>(size);
                   }())) {}

ReadDeadline::ReadDeadline(const std::string& path, std::chrono::milliseconds limit)
    : watch_(std::make_shared<Watch>()), path_(path) {
  {
    const std::lock_guard<std::mutex> lock(files_being_read_mutex);
    files_being_read.push_back(path_);
  }
  watchdog_ = std::thread([watch = watch_, path, limit] {
    std::unique_lock<std::mutex> lock(watch->mutex);
    if (watch->done_changed.wait_for(lock, limit, [&] { return watch->done; })) return;
    const std::string line =
        fmt::format("cmbench: error: {}: reading this HDF5 file did not end within {:.0f} s (libhdf5 can loop forever on a "
                    "damaged file); stopping\n",
                    path, std::chrono::duration<double>(limit).count());
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    std::_Exit(static_cast<int>(ExitCode::bad_input));
  });
}

ReadDeadline::~ReadDeadline() {
  {
    std::lock_guard<std::mutex> lock(watch_->mutex);
    watch_->done = true;
  }
  watch_->done_changed.notify_all();
  watchdog_.join();
  const std::lock_guard<std::mutex> lock(files_being_read_mutex);
  const auto it = std::find(files_being_read.rbegin(), files_being_read.rend(), path_);
  if (it != files_being_read.rend()) files_being_read.erase(std::next(it).base());
}

H5::H5File open_read(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(fmt::format("{}: no such file", path));
  try {
    if (!H5::H5File::isHdf5(path)) throw InputError(fmt::format("{}: not an HDF5 file", path));
    check_global_heaps(path);
    return H5::H5File(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot open HDF5 file: {}", path, e.getDetailMsg()));
  }
}

namespace {

// A file built in memory by HDF5's core driver. The driver allocates its buffer through these
// callbacks and hands it to image_free when the file closes; the buffer is kept for writing then.
struct CoreImage {
  void* data = nullptr;
  size_t capacity = 0;  // bytes of the driver's last allocation
  CoreImage() = default;
  CoreImage(const CoreImage&) = delete;
  CoreImage& operator=(const CoreImage&) = delete;
  ~CoreImage() { std::free(data); }
};

void* image_malloc(size_t size, H5FD_file_image_op_t, void* context) {
  void* buffer = std::malloc(size);
  if (buffer != nullptr) static_cast<CoreImage*>(context)->capacity = size;
  return buffer;
}
void* image_memcpy(void* dest, const void* src, size_t size, H5FD_file_image_op_t, void*) {
  return std::memcpy(dest, src, size);
}
void* image_realloc(void* buffer, size_t size, H5FD_file_image_op_t, void* context) {
  void* grown = std::realloc(buffer, size);
  if (grown != nullptr) static_cast<CoreImage*>(context)->capacity = size;
  return grown;
}
herr_t image_free(void* buffer, H5FD_file_image_op_t operation, void* context) {
  if (operation == H5FD_FILE_IMAGE_OP_FILE_CLOSE) {
    static_cast<CoreImage*>(context)->data = buffer;
  } else {
    std::free(buffer);
  }
  return 0;
}
void* context_copy(void* context) { return context; }
herr_t context_free(void*) { return 0; }

// Read-only access to a buffer without copying it (H5LT's "don't copy" file images, without the HL
// library): every allocation is the buffer itself, every copy a no-op, nothing is freed.
void* borrow_malloc(size_t, H5FD_file_image_op_t, void* buffer) { return buffer; }
void* borrow_memcpy(void* dest, const void*, size_t, H5FD_file_image_op_t, void*) { return dest; }
void* borrow_realloc(void*, size_t, H5FD_file_image_op_t, void*) { return nullptr; }
herr_t borrow_free(void*, H5FD_file_image_op_t, void*) { return 0; }
void* borrow_copy(void* buffer) { return buffer; }
herr_t borrow_release(void*) { return 0; }

// The core driver's buffer is a multiple of its allocation increment; the file ends at the
// end-of-allocation address its closed superblock records, read here by opening the image.
size_t image_file_size(void* buffer, size_t buffer_size) {
  H5::FileAccPropList access;
  H5Pset_fapl_core(access.getId(), buffer_size, /*backing_store=*/false);
  H5FD_file_image_callbacks_t borrow = {borrow_malloc, borrow_memcpy, borrow_realloc, borrow_free,
                                        borrow_copy,   borrow_release, buffer};
  if (H5Pset_file_image_callbacks(access.getId(), &borrow) < 0 || H5Pset_file_image(access.getId(), buffer, buffer_size) < 0)
    throw H5::FileIException("H5Pset_file_image", "cannot use the file image");
  H5::H5File image("core image", H5F_ACC_RDONLY, H5::FileCreatPropList::DEFAULT, access);
  const ssize_t size = H5Fget_file_image(image.getId(), nullptr, 0);
  if (size <= 0 || static_cast<size_t>(size) > buffer_size)
    throw H5::FileIException("H5Fget_file_image", "the file image has no valid size");
  return static_cast<size_t>(size);
}

// Allocation step of the core driver's buffer (it grows by realloc).
constexpr size_t kCoreDriverIncrement = size_t{4} << 20;

}  // namespace

void write_atomic(const std::string& path, const std::function<void(H5::H5File&)>& fill) {
  // The file is built in memory and written out in one piece after it is closed: libhdf5 never
  // writes to the disk, so a full disk fails that last write, not a metadata flush (libhdf5 built
  // with assertions, as Debian testing's HDF5 2 is, aborts in H5F__dest when that flush fails).
  CoreImage image;
  size_t size = 0;
  try {
    // Untimed root group too: HDF5 2 stores the root's creation time otherwise, and equal content
    // must give equal bytes.
    H5::FileCreatPropList creation;
    H5Pset_obj_track_times(creation.getId(), false);
    H5::FileAccPropList access;
    H5Pset_fapl_core(access.getId(), kCoreDriverIncrement, /*backing_store=*/false);
    H5FD_file_image_callbacks_t callbacks = {image_malloc, image_memcpy, image_realloc, image_free,
                                             context_copy, context_free, &image};
    if (H5Pset_file_image_callbacks(access.getId(), &callbacks) < 0)
      throw H5::FileIException("H5Pset_file_image_callbacks", "cannot set the core driver's callbacks");
    H5::H5File file(path, H5F_ACC_TRUNC, creation, access);
    fill(file);
    file.close();
    if (image.data == nullptr) throw H5::FileIException("H5Fclose", "the core driver returned no file image");
    size = image_file_size(image.data, image.capacity);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: HDF5 write failed: {}", path, e.getDetailMsg()));
  }
  atomic_write_bytes(path, image.data, size);
}

H5::DSetCreatPropList untimed_dataset_properties() {
  H5::DSetCreatPropList properties;
  H5Pset_obj_track_times(properties.getId(), false);
  return properties;
}

void write_tensor(H5::Group& group, const std::string& name, const torch::Tensor& tensor) {
  const auto cpu = tensor.detach().to(torch::kCPU).contiguous();
  std::vector<hsize_t> dims(cpu.sizes().begin(), cpu.sizes().end());
  H5::DataSpace space = dims.empty() ? H5::DataSpace(H5S_SCALAR)
                                     : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
  const auto type = h5_type(cpu.scalar_type());
  H5::DataSet dataset = group.createDataSet(name, type, space, untimed_dataset_properties());
  if (cpu.numel() > 0) dataset.write(cpu.data_ptr(), type);
}

uint64_t checked_element_count(const H5::DataSet& dataset, const std::string& where) {
  H5::DataSpace space = dataset.getSpace();
  const H5S_class_t kind = H5Sget_simple_extent_type(space.getId());
  if (kind != H5S_SIMPLE && kind != H5S_SCALAR) throw InputError(fmt::format("{}: dataset has no data space", where));
  std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
  if (!dims.empty()) space.getSimpleExtentDims(dims.data());
  const uint64_t element_size = dataset.getDataType().getSize();
  uint64_t count = 1;
  bool too_big = element_size > kMaxDatasetBytes;
  for (const hsize_t dim : dims) {
    too_big = too_big || dim > kMaxDatasetBytes || (dim > 0 && count > kMaxDatasetBytes / dim);
    if (!too_big) count *= dim;
  }
  if (too_big || (element_size > 0 && count > kMaxDatasetBytes / element_size))
    throw InputError(fmt::format("{}: dataset declares more than the limit of {} bytes", where, kMaxDatasetBytes));
  const uint64_t declared = count * element_size;

  H5::DSetCreatPropList creation = dataset.getCreatePlist();
  if (H5Pget_layout(creation.getId()) == H5D_VIRTUAL || H5Pget_external_count(creation.getId()) > 0)
    throw InputError(fmt::format("{}: dataset keeps its data outside this file (external or virtual storage)", where));
  const uint64_t file_size = std::filesystem::file_size(dataset.getFileName());
  const uint64_t stored = dataset.getStorageSize();
  if (stored > file_size)
    throw InputError(fmt::format("{}: dataset claims {} stored bytes but the file has {}", where, stored, file_size));
  const bool filtered = H5Pget_nfilters(creation.getId()) > 0;
  const uint64_t holds = filtered ? stored * kMaxCompressionRatio : stored;
  if (declared > holds)
    throw InputError(fmt::format("{}: dataset declares {} bytes but the file holds {} bytes of it{}", where, declared,
                                 stored, filtered ? fmt::format(" (at most {}:1 compression)", kMaxCompressionRatio) : ""));
  return count;
}

std::vector<int64_t> dataset_shape(const H5::Group& group, const std::string& name) {
  H5::DataSet dataset = group.openDataSet(name);
  H5::DataSpace space = dataset.getSpace();
  std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
  if (!dims.empty()) space.getSimpleExtentDims(dims.data());
  return std::vector<int64_t>(dims.begin(), dims.end());
}

torch::Tensor read_tensor(const H5::Group& group, const std::string& name) {
  H5::DataSet dataset = group.openDataSet(name);
  const auto where = object_name(group);
  checked_element_count(dataset, where + (where.back() == '/' ? "" : "/") + name);
  const auto shape = dataset_shape(group, name);
  const H5T_class_t cls = dataset.getTypeClass();
  const size_t size = dataset.getDataType().getSize();
  torch::ScalarType type;
  if (cls == H5T_FLOAT) {
    type = size == 8 ? torch::kFloat64 : torch::kFloat32;
  } else if (cls == H5T_INTEGER) {
    const bool is_signed = dataset.getIntType().getSign() != H5T_SGN_NONE;
    if (size == 1 && !is_signed) type = torch::kUInt8;
    else if (size <= 4) type = torch::kInt32;
    else type = torch::kInt64;
  } else {
    throw InputError(fmt::format("{}: dataset '{}' is not numeric", object_name(group), name));
  }
  auto tensor = torch::empty(shape, torch::TensorOptions().dtype(type));
  if (tensor.numel() > 0) dataset.read(tensor.data_ptr(), h5_type(type));
  return tensor;
}

H5::Group require_group(H5::Group& parent, const std::string& name) {
  if (has_child(parent, name)) return parent.openGroup(name);
  const hid_t properties = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(properties, false);
  const hid_t id = H5Gcreate2(parent.getId(), name.c_str(), H5P_DEFAULT, properties, H5P_DEFAULT);
  H5Pclose(properties);
  if (id < 0) throw InputError(fmt::format("{}: cannot create group '{}'", object_name(parent), name));
  H5::Group group(id);  // takes its own reference
  H5Idec_ref(id);
  return group;
}

bool has_child(const H5::Group& group, const std::string& name) {
  return H5Lexists(group.getId(), name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> child_names(const H5::Group& group) {
  // One pass over the links: looking each name up by index rebuilds the sorted link table every
  // time, which made listing a store of 1000 runs take a third of a second (issue 17.5).
  std::vector<std::string> names;
  hsize_t position = 0;
  const auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  if (H5Literate(group.getId(), H5_INDEX_NAME, H5_ITER_INC, &position, collect, &names) < 0) {
    throw InputError(fmt::format("{}: cannot list the members of a group", object_name(group)));
  }
  std::sort(names.begin(), names.end());
  return names;
}

void set_attribute(H5::H5Object& object, const std::string& name, const std::string& value) {
  if (object.attrExists(name)) object.removeAttr(name);
  H5::StrType type(H5::PredType::C_S1, value.empty() ? 1 : value.size());
  type.setCset(H5T_CSET_UTF8);
  H5::Attribute attribute = object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attribute.write(type, value.empty() ? std::string(1, '\0') : value);
}

void set_attribute(H5::H5Object& object, const std::string& name, double value) {
  if (object.attrExists(name)) object.removeAttr(name);
  H5::Attribute attribute = object.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR));
  attribute.write(H5::PredType::NATIVE_DOUBLE, &value);
}

void set_attribute(H5::H5Object& object, const std::string& name, int64_t value) {
  if (object.attrExists(name)) object.removeAttr(name);
  H5::Attribute attribute = object.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR));
  attribute.write(H5::PredType::NATIVE_INT64, &value);
}

bool has_attribute(const H5::H5Object& object, const std::string& name) { return object.attrExists(name); }

std::string get_string_attribute(const H5::H5Object& object, const std::string& name) {
  H5::Attribute attribute = open_single_value(object, name);
  if (attribute.getTypeClass() != H5T_STRING) {
    throw InputError(fmt::format("{}: attribute '{}' is not a string", object_name(object), name));
  }
  H5::StrType type = attribute.getStrType();
  check_variable_length_reference(attribute, object_name(object), name);
  std::string value;
  attribute.read(type, value);
  while (!value.empty() && value.back() == '\0') value.pop_back();
  if (!is_utf8(value)) throw InputError(fmt::format("{}: attribute '{}' is not UTF-8 text", object_name(object), name));
  return value;
}

double get_double_attribute(const H5::H5Object& object, const std::string& name) {
  H5::Attribute attribute = open_single_value(object, name);
  if (attribute.getTypeClass() != H5T_FLOAT && attribute.getTypeClass() != H5T_INTEGER) {
    throw InputError(fmt::format("{}: attribute '{}' is not numeric", object_name(object), name));
  }
  double value = 0;
  attribute.read(H5::PredType::NATIVE_DOUBLE, &value);
  return value;
}

int64_t get_int_attribute(const H5::H5Object& object, const std::string& name) {
  H5::Attribute attribute = open_single_value(object, name);
  if (attribute.getTypeClass() != H5T_INTEGER) {
    throw InputError(fmt::format("{}: attribute '{}' is not an integer", object_name(object), name));
  }
  int64_t value = 0;
  attribute.read(H5::PredType::NATIVE_INT64, &value);
  return value;
}

}  // namespace cmbench::h5

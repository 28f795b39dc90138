// Images stored as numpy arrays: `.npy` / `.npz` of uint8 (N, H, W, C), and the downsampled-ImageNet
// batches (`data` uint8 (N, 3*R*R) with the R, G, B planes of each image one after another, `labels`
// 1-based class numbers).
#include <cmath>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/npy.h"
#include "data/basic_image_source.h"
#include "data/npy_lazy.h"

namespace cmbench {

namespace {

std::vector<int64_t> integer_labels(const NpyArray& array, const std::string& source) {
  if (array.shape.size() != 1) {
    throw InputError(fmt::format("{}: labels must be one-dimensional, got shape {}", source, array.shape_string()));
  }
  if (array.dtype == DType::f32 || array.dtype == DType::f64 || array.dtype == DType::boolean) {
    throw InputError(fmt::format("{}: labels must be integers, got {}", source, dtype_name(array.dtype)));
  }
  // Each value converted exactly from its own type (through double, a uint64 beyond int64 would be
  // undefined and a large int64 rounded).
  std::vector<int64_t> labels(static_cast<size_t>(array.numel()));
  const auto convert = [&](auto tag) {
    using T = decltype(tag);
    const T* values = reinterpret_cast<const T*>(array.bytes.data());
    for (size_t i = 0; i < labels.size(); ++i) {
      if constexpr (std::is_same_v<T, uint64_t>) {
        if (values[i] > static_cast<uint64_t>(INT64_MAX)) {
          throw InputError(fmt::format("{}: label {} of image {} does not fit in int64", source, values[i], i));
        }
      }
      labels[i] = static_cast<int64_t>(values[i]);
    }
  };
  switch (array.dtype) {
    case DType::u8: convert(uint8_t{}); break;
    case DType::i8: convert(int8_t{}); break;
    case DType::u16: convert(uint16_t{}); break;
    case DType::i16: convert(int16_t{}); break;
    case DType::u32: convert(uint32_t{}); break;
    case DType::i32: convert(int32_t{}); break;
    case DType::u64: convert(uint64_t{}); break;
    case DType::i64: convert(int64_t{}); break;
    default: break;  // refused above
  }
  return labels;
}

// uint8 (N, H, W, C) with C 1 or 3, read lazily.
class ArrayImageSource : public BasicImageSource {
 public:
  ArrayImageSource(std::unique_ptr<LazyNpy> array, const std::string& name) : array_(std::move(array)) {
    name_ = name;
    const auto& shape = array_->shape();
    if (array_->descr() != "|u1") {
      throw InputError(fmt::format("{}: images must be uint8, got dtype '{}'", array_->source(), array_->descr()));
    }
    if (shape.size() != 4 || (shape[3] != 3 && shape[3] != 1)) {
      throw InputError(fmt::format("{}: images must have shape (N, H, W, 3) or (N, H, W, 1), got ({})",
                                   array_->source(), fmt::join(shape, ", ")));
    }
    count_ = shape[0];
    height_ = shape[1];
    width_ = shape[2];
    channels_ = shape[3];
    if (count_ == 0) throw InputError(fmt::format("{}: no images", array_->source()));
    if (height_ == 0 || width_ == 0) {
      throw InputError(fmt::format("{}: images of {}x{} pixels are empty", array_->source(), width_, height_));
    }
  }
  void attach_labels(const NpyArray& labels, const std::string& source) {
    set_labels(integer_labels(labels, source), source);
  }

 protected:
  void read_into(int64_t begin, int64_t end, uint8_t* out) const override {
    array_->read(static_cast<uint64_t>(begin * image_bytes()), static_cast<uint64_t>((end - begin) * image_bytes()), out);
  }

 private:
  std::unique_ptr<LazyNpy> array_;
};

class ImagenetBatchSource : public BasicImageSource {
 public:
  ImagenetBatchSource(const std::vector<std::string>& files, const std::string& name) {
    name_ = name;
    std::vector<int64_t> labels;
    for (const auto& file : files) {
      auto data = LazyNpy::open_npz_member(file, "data");
      const auto& shape = data->shape();
      if (data->descr() != "|u1" || shape.size() != 2) {
        throw InputError(fmt::format("{}: 'data' must be uint8 (N, 3*R*R), got '{}' ({})", file, data->descr(),
                                     fmt::join(shape, ", ")));
      }
      if (shape[0] == 0) throw InputError(fmt::format("{}: 'data' holds no images", file));
      const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(shape[1]) / 3.0)));
      if (3 * side * side != shape[1] || side == 0) {
        throw InputError(fmt::format("{}: 'data' rows of {} values are not 3 square planes", file, shape[1]));
      }
      if (batches_.empty()) {
        height_ = width_ = side;
      } else if (side != height_) {
        throw InputError(fmt::format("{}: {}x{} images, but {} holds {}x{}", file, side, side, files[0], height_, width_));
      }
      const auto file_labels = integer_labels(read_npz(file, {"labels"}).at("labels"), file + ":labels");
      if (static_cast<int64_t>(file_labels.size()) != shape[0]) {
        throw InputError(fmt::format("{}: {} labels for {} images", file, file_labels.size(), shape[0]));
      }
      for (const int64_t label : file_labels) {
        if (label < 1 || label > 1000) {
          throw InputError(fmt::format("{}: label {} outside 1..1000 (the batches number classes from 1)", file, label));
        }
        labels.push_back(label - 1);
      }
      starts_.push_back(count_);
      count_ += shape[0];
      batches_.push_back(std::move(data));
    }
    if (count_ == 0) throw InputError(fmt::format("{}: no images", name));
    channels_ = 3;
    set_labels(labels, name);
  }

 protected:
  void read_into(int64_t begin, int64_t end, uint8_t* out) const override {
    const int64_t plane = height_ * width_;
    std::vector<uint8_t> planar;
    for (int64_t start = begin; start < end;) {
      const size_t b = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), start) - starts_.begin() - 1);
      const int64_t batch_end = b + 1 < starts_.size() ? starts_[b + 1] : count_;
      const int64_t n = std::min(end, batch_end) - start;
      planar.resize(static_cast<size_t>(n * 3 * plane));
      batches_[b]->read(static_cast<uint64_t>((start - starts_[b]) * 3 * plane), planar.size(), planar.data());
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t* src = planar.data() + i * 3 * plane;
        uint8_t* dst = out + (start - begin + i) * 3 * plane;
        for (int64_t p = 0; p < plane; ++p) {
          dst[3 * p] = src[p];
          dst[3 * p + 1] = src[plane + p];
          dst[3 * p + 2] = src[2 * plane + p];
        }
      }
      start += n;
    }
  }

 private:
  std::vector<std::unique_ptr<LazyNpy>> batches_;
  std::vector<int64_t> starts_;
};

}  // namespace

std::unique_ptr<ImageSource> open_npy_images(const std::string& path) {
  return std::make_unique<ArrayImageSource>(LazyNpy::open_file(path), path);
}

std::unique_ptr<ImageSource> open_npz_images(const std::string& path) {
  const auto keys = npz_keys(path);
  const auto has = [&](const std::string& key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); };
  if (has("data") && !has("images")) return open_imagenet_batches({path}, path);
  if (!has("images") && !has("arr_0")) {
    if (has("mu") && has("sigma")) throw InputError(fmt::format("{}: a statistics file (mu, sigma), not images", path));
    throw InputError(fmt::format("{}: no image array (keys 'images', 'arr_0' or ImageNet batch 'data'); has: {}", path,
                                 fmt::join(keys, ", ")));
  }
  auto source = std::make_unique<ArrayImageSource>(LazyNpy::open_npz_member(path, has("images") ? "images" : "arr_0"), path);
  if (has("labels")) source->attach_labels(read_npz(path, {"labels"}).at("labels"), path + ":labels");
  return source;
}

std::unique_ptr<ImageSource> open_imagenet_batches(const std::vector<std::string>& files, const std::string& name) {
  return std::make_unique<ImagenetBatchSource>(files, name);
}

}  // namespace cmbench

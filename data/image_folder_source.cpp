#include "data/image_folder_source.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/png.h"
#include "data/basic_image_source.h"
#include "data/jpeg_decoder.h"

namespace cmbench {

namespace {

namespace fs = std::filesystem;

std::string lower_extension(const std::string& name) {
  const auto dot = name.rfind('.');
  std::string ext = dot == std::string::npos ? std::string() : name.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// PIL.Image.EXTENSION after PIL.Image.init() in Pillow 9.4 (dataset_tool's is_image_ext).
bool is_image_extension(const std::string& ext) {
  static const std::set<std::string> known = {
      ".apng", ".blp", ".bmp", ".bufr", ".bw",  ".cur",  ".dcx", ".dds",  ".dib",  ".emf", ".eps",
      ".fit",  ".fits", ".flc", ".fli",  ".ftc", ".ftu",  ".gbr", ".gif",  ".grib", ".h5",  ".hdf",
      ".icb",  ".icns", ".ico", ".iim",  ".im",  ".j2c",  ".j2k", ".jfif", ".jp2",  ".jpc", ".jpe",
      ".jpeg", ".jpf",  ".jpg", ".jpx",  ".mpeg", ".mpg", ".mpo", ".msp",  ".pbm",  ".pcd", ".pcx",
      ".pdf",  ".pgm",  ".png", ".pnm",  ".ppm", ".ps",   ".psd", ".pxr",  ".ras",  ".rgb", ".rgba",
      ".sgi",  ".tga",  ".tif", ".tiff", ".vda", ".vst",  ".webp", ".wmf", ".xbm",  ".xpm"};
  return known.count(ext) > 0;
}

// _recurse_dirs: os.scandir's is_file()/is_dir() follow symbolic links.
template <class Visit>
void walk_files(const fs::path& folder, Visit&& visit) {
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink, ec), end;
  if (ec) throw InputError(fmt::format("{}: cannot list: {}", folder.string(), ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) throw InputError(fmt::format("{}: cannot list: {}", folder.string(), ec.message()));
    if (it->is_regular_file(ec) && is_image_extension(lower_extension(it->path().filename().string()))) {
      if (!visit(it->path())) return;
    }
  }
  if (ec) throw InputError(fmt::format("{}: cannot list: {}", folder.string(), ec.message()));
}

// Whether `path` is a folder with an image file below it whose extension passes `wanted`.
bool folder_holds_image_files(const std::string& path, const std::function<bool(const std::string&)>& wanted) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  bool found = false;
  walk_files(path, [&](const fs::path& file) {
    found = wanted(lower_extension(file.filename().string()));
    return !found;
  });
  return found;
}

// A folder that open_image_source would not read as CIFAR-10 binaries or npz batches.
bool is_plain_folder(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    const std::string ext = lower_extension(entry.path().filename().string());
    if (ext == ".npz" || ext == ".bin" || entry.path().filename() == "cifar-10-batches-bin") return false;
  }
  return true;
}

// Runs fn(i) for i in [0, n) on LibTorch's intra-op threads; the error of the lowest failing index
// is thrown afterwards (InputError messages kept as they are).
void parallel_each(int64_t n, const std::function<void(int64_t)>& fn) {
  std::vector<std::optional<std::string>> errors(static_cast<size_t>(n));
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        fn(i);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(i)] = e.what();
      }
    }
  });
  for (const auto& error : errors) {
    if (error) throw InputError(*error);
  }
}

// Loads images [begin, end) as RGB, of their own sizes.
using RangeLoader = std::function<std::vector<DecodedImage>(int64_t begin, int64_t end)>;

class TransformedSource : public BasicImageSource {
 public:
  TransformedSource(std::string name, int64_t count, std::vector<int64_t> labels, RangeLoader load,
                    std::function<std::string(int64_t)> describe, TransformSpec spec)
      : load_(std::move(load)), describe_(std::move(describe)), spec_(spec) {
    name_ = std::move(name);
    count_ = count;
    channels_ = 3;
    if (!labels.empty()) set_labels(labels, name_);
    if (spec_.has_resolution()) {
      width_ = spec_.width;
      height_ = spec_.height;
    } else {
      const DecodedImage first = load_(0, 1).front();
      width_ = first.width;
      height_ = first.height;
    }
    // dataset_tool convert's checks on the first image.
    if (width_ != height_) {
      throw InputError(fmt::format("{}: images after scale and crop must be square (EDM's dataset zip), got {}x{}",
                                   name_, width_, height_));
    }
    if ((width_ & (width_ - 1)) != 0) {
      throw InputError(fmt::format("{}: image side after scale and crop must be a power of two, got {}", name_, width_));
    }
  }

 protected:
  void read_into(int64_t begin, int64_t end, uint8_t* out) const override {
    const std::vector<DecodedImage> images = load_(begin, end);
    parallel_each(end - begin, [&](int64_t i) {
      const DecodedImage image = apply_transform(images[static_cast<size_t>(i)], spec_);
      if (image.width != width_ || image.height != height_) {
        throw InputError(fmt::format("{}: is {}x{} after the transform, the dataset's images {}x{}",
                                     describe_(begin + i), image.width, image.height, width_, height_));
      }
      std::memcpy(out + i * image_bytes(), image.pixels.data(), image.pixels.size());
    });
  }

 private:
  RangeLoader load_;
  std::function<std::string(int64_t)> describe_;
  TransformSpec spec_;
};

std::unique_ptr<ImageSource> open_transformed_folder(const std::string& folder, const TransformSpec& spec) {
  auto listing = std::make_shared<ImageFolderListing>(list_image_folder(folder));
  const auto path_of = [folder, listing](int64_t i) {
    return (fs::path(folder) / listing->files[static_cast<size_t>(i)]).string();
  };
  RangeLoader load = [path_of](int64_t begin, int64_t end) {
    std::vector<DecodedImage> images(static_cast<size_t>(end - begin));
    parallel_each(end - begin, [&](int64_t i) { images[static_cast<size_t>(i)] = decode_image_file(path_of(begin + i)); });
    return images;
  };
  return std::make_unique<TransformedSource>(folder, static_cast<int64_t>(listing->files.size()), listing->labels,
                                             std::move(load), path_of, spec);
}

}  // namespace

ImageFolderListing list_image_folder(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw InputError(fmt::format("{}: not a folder", folder));
  ImageFolderListing listing;
  walk_files(folder, [&](const fs::path& path) {
    listing.files.push_back(fs::relative(path, folder).generic_string());
    return true;
  });
  // Every path shares the folder prefix, so sorting relative paths sorts dataset_tool's full paths.
  std::sort(listing.files.begin(), listing.files.end());
  if (listing.files.empty()) throw InputError(fmt::format("{}: no image files (JPEG, PNG, ...) in the folder tree", folder));

  const fs::path json = fs::path(folder) / "dataset.json";
  if (fs::is_regular_file(json, ec)) {
    const auto bytes = read_file_bytes(json.string());
    listing.labels = labels_from_dataset_json(std::string(bytes.begin(), bytes.end()), listing.files, json.string());
    if (!listing.labels.empty()) return listing;
  }
  // No labels in dataset.json: the top-level folder names ('' for files in the folder itself).
  const auto top_level = [](const std::string& file) {
    const auto slash = file.find('/');
    return slash == std::string::npos ? std::string() : file.substr(0, slash);
  };
  std::map<std::string, int64_t> index;  // sorted names
  for (const auto& file : listing.files) index.emplace(top_level(file), 0);
  if (index.size() <= 1) return listing;
  int64_t next = 0;
  for (auto& entry : index) entry.second = next++;
  listing.labels.reserve(listing.files.size());
  for (const auto& file : listing.files) listing.labels.push_back(index.at(top_level(file)));
  return listing;
}

bool is_raw_image_folder(const std::string& path) {
  return folder_holds_image_files(path, [](const std::string& ext) { return ext != ".png"; });
}

DecodedImage decode_image_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  if (is_jpeg_data(bytes.data(), bytes.size())) return decode_jpeg(bytes.data(), bytes.size(), path);
  static const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSignature, 8) == 0) {
    // Refuses more than kMaxPngPixels, or more than the file's bytes can hold.
    const PngHeader header = check_png_data_size(bytes.data(), bytes.size(), bytes.size(), path);
    DecodedImage image(header.height, header.width, header.channels);
    decode_png(bytes.data(), bytes.size(), header, image.pixels.data(), path);
    return to_rgb(std::move(image));
  }
  throw InputError(fmt::format("{}: neither JPEG nor PNG data (cmbench decodes only these two of PIL's formats)", path));
}

std::unique_ptr<ImageSource> open_transformed_source(const std::string& spec, const TransformSpec& transform) {
  // Any folder of image files is walked as dataset_tool walks it (a CIFAR-10 root or a folder of
  // downsampled-ImageNet batches holds none and opens as before).
  if (folder_holds_image_files(spec, [](const std::string&) { return true; }) || is_plain_folder(spec)) {
    return open_transformed_folder(spec, transform);
  }
  std::shared_ptr<ImageSource> source = open_image_source(spec);
  RangeLoader load = [source](int64_t begin, int64_t end) {
    const torch::Tensor batch = source->read(begin, end).contiguous();
    const int64_t h = source->height(), w = source->width(), c = source->channels();
    std::vector<DecodedImage> images;
    images.reserve(static_cast<size_t>(end - begin));
    for (int64_t i = 0; i < end - begin; ++i) {
      DecodedImage image(h, w, c);
      std::memcpy(image.pixels.data(), batch.data_ptr<uint8_t>() + i * h * w * c, image.pixels.size());
      images.push_back(to_rgb(std::move(image)));
    }
    return images;
  };
  const auto describe = [spec](int64_t i) { return fmt::format("{}: image {}", spec, i); };
  std::vector<int64_t> labels;
  if (source->has_labels()) {
    const torch::Tensor values = source->labels().contiguous();
    labels.assign(values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + values.numel());
  }
  return std::make_unique<TransformedSource>(spec, source->size(), std::move(labels), std::move(load), describe,
                                             transform);
}

}  // namespace cmbench

// PNG images one per file: a folder (searched recursively) or an EDM dataset zip. Both follow EDM's
// training/dataset.py: image names sorted, labels from an optional dataset.json beside the images.
#include <zip.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <fmt/format.h>

#include "core/error.h"
#include "data/basic_image_source.h"
#include "core/npy_zip.h"
#include "core/png.h"

namespace cmbench {

namespace {

bool is_png_name(const std::string& name) {
  if (name.size() < 4) return false;
  std::string ext = name.substr(name.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png";
}

// Common to both layouts: sorted relative names, one header check per image at open time so that
// mixed resolutions or non-PNG entries fail before any work starts.
class PngSetSource : public BasicImageSource {
 protected:
  void init(const std::string& source, std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    names_ = std::move(names);
    if (names_.empty()) throw InputError(fmt::format("{}: no PNG images", source));
    count_ = static_cast<int64_t>(names_.size());
    for (size_t i = 0; i < names_.size(); ++i) {
      const auto prefix = read_prefix(names_[i], 26);
      // Before read() allocates images of this size from the header alone.
      const PngHeader header =
          check_png_data_size(prefix.data(), prefix.size(), member_size(names_[i]), member_name(names_[i]));
      if (i == 0) {
        header_ = header;
      } else if (header.width != header_.width || header.height != header_.height ||
                 header.channels != header_.channels) {
        throw InputError(fmt::format("{}: mixed resolutions: {} is {}x{}x{}, {} is {}x{}x{}", source, names_[0],
                                     header_.width, header_.height, header_.channels, names_[i], header.width,
                                     header.height, header.channels));
      }
    }
    height_ = header_.height;
    width_ = header_.width;
    channels_ = header_.channels;
  }

  void read_into(int64_t begin, int64_t end, uint8_t* out) const override {
    for (int64_t i = begin; i < end; ++i) {
      const auto bytes = read_member(names_[static_cast<size_t>(i)]);
      decode_png(bytes.data(), bytes.size(), header_, out + (i - begin) * image_bytes(),
                 member_name(names_[static_cast<size_t>(i)]));
    }
  }

  virtual std::vector<uint8_t> read_member(const std::string& name) const = 0;
  virtual std::vector<uint8_t> read_prefix(const std::string& name, size_t size) const = 0;
  virtual uint64_t member_size(const std::string& name) const = 0;  // bytes of the encoded file
  virtual std::string member_name(const std::string& name) const = 0;  // for messages

  std::vector<std::string> names_;
  PngHeader header_;
};

class PngFolderSource : public PngSetSource {
 public:
  explicit PngFolderSource(const std::string& folder) : folder_(folder) {
    namespace fs = std::filesystem;
    name_ = folder;
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file() && is_png_name(it->path().filename().string())) {
        names.push_back(fs::relative(it->path(), folder).generic_string());
      }
    }
    if (ec) throw InputError(fmt::format("{}: cannot list: {}", folder, ec.message()));
    init(folder, names);
    const fs::path json = fs::path(folder) / "dataset.json";
    if (fs::exists(json)) {
      const auto bytes = read_file_bytes(json.string());
      const auto labels = labels_from_dataset_json(std::string(bytes.begin(), bytes.end()), names_, json.string());
      if (!labels.empty()) set_labels(labels, json.string());
    }
  }

 protected:
  std::vector<uint8_t> read_member(const std::string& name) const override { return read_file_bytes(member_name(name)); }
  std::vector<uint8_t> read_prefix(const std::string& name, size_t size) const override {
    std::ifstream in(member_name(name), std::ios::binary);
    std::vector<uint8_t> bytes(size);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    bytes.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    return bytes;
  }
  uint64_t member_size(const std::string& name) const override {
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(member_name(name), ec);
    if (ec) throw InputError(fmt::format("{}: cannot read the size: {}", member_name(name), ec.message()));
    return size;
  }
  std::string member_name(const std::string& name) const override { return folder_ + "/" + name; }

 private:
  std::string folder_;
};

class EdmZipSource : public PngSetSource {
 public:
  explicit EdmZipSource(const std::string& path) : path_(path) {
    int error = 0;
    zip_ = zip_open(path.c_str(), ZIP_RDONLY, &error);
    if (!zip_) {
      zip_error_t ze;
      zip_error_init_with_code(&ze, error);
      const std::string message = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      throw InputError(fmt::format("{}: not a valid zip archive: {}", path, message));
    }
    try {
      name_ = path;
      std::vector<std::string> names;
      bool has_json = false;
      const zip_int64_t count = zip_get_num_entries(zip_, 0);
      for (zip_int64_t i = 0; i < count; ++i) {
        const char* entry = zip_get_name(zip_, static_cast<zip_uint64_t>(i), 0);
        if (!entry) continue;
        const std::string name(entry);
        if (is_png_name(name)) names.push_back(name);
        if (name == "dataset.json") has_json = true;
      }
      init(path, names);
      if (has_json) {
        const auto bytes = read_member("dataset.json");
        const auto labels =
            labels_from_dataset_json(std::string(bytes.begin(), bytes.end()), names_, path + ":dataset.json");
        if (!labels.empty()) set_labels(labels, path + ":dataset.json");
      }
    } catch (...) {
      zip_discard(zip_);
      throw;
    }
  }
  ~EdmZipSource() override { zip_discard(zip_); }

 protected:
  std::vector<uint8_t> read_member(const std::string& name) const override { return read_entry(name, 0); }
  std::vector<uint8_t> read_prefix(const std::string& name, size_t size) const override {
    return read_entry(name, size);
  }
  uint64_t member_size(const std::string& name) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return checked_zip_stat(zip_, locate(name), path_, member_name(name)).size;
  }
  std::string member_name(const std::string& name) const override { return path_ + ":" + name; }

 private:
  // The whole entry (limit 0) or its first `limit` bytes. libzip handles are not thread-safe.
  std::vector<uint8_t> read_entry(const std::string& name, size_t limit) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return read_zip_member(zip_, locate(name), path_, member_name(name), limit);
  }
  zip_uint64_t locate(const std::string& name) const {
    const zip_int64_t index = zip_name_locate(zip_, name.c_str(), 0);
    if (index < 0) throw InputError(fmt::format("{}: missing entry: {}", member_name(name), zip_strerror(zip_)));
    return static_cast<zip_uint64_t>(index);
  }

  std::string path_;
  zip_t* zip_ = nullptr;
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<ImageSource> open_png_folder(const std::string& folder) {
  return std::make_unique<PngFolderSource>(folder);
}

std::unique_ptr<ImageSource> open_edm_zip(const std::string& path) { return std::make_unique<EdmZipSource>(path); }

}  // namespace cmbench

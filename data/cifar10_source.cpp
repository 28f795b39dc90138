// The CIFAR-10 binary reader: train = data_batch_1..5 in order (50,000 images), test = test_batch.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "data/basic_image_source.h"
#include "data/cifar10.h"

namespace cmbench {

namespace cifar10 {

std::string batches_folder(const std::string& root) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(root) / "data_batch_1.bin") || fs::exists(fs::path(root) / "test_batch.bin")) return root;
  return (fs::path(root) / kFolder).string();
}

}  // namespace cifar10

namespace {

class Cifar10Source : public BasicImageSource {
 public:
  Cifar10Source(const std::string& root, const std::string& split, const std::string& name) {
    name_ = name;
    height_ = width_ = cifar10::kSide;
    channels_ = 3;
    const std::string folder = cifar10::batches_folder(root);
    const size_t first = split == "test" ? 5 : 0;
    const size_t last = split == "test" ? 6 : 5;
    std::vector<int64_t> labels;
    try {
      read_labels(folder, first, last, labels);
      count_ = static_cast<int64_t>(labels.size());
      set_labels(labels, folder, cifar10::kNumClasses);
    } catch (...) {
      for (const auto& f : files_) ::close(f.fd);
      throw;
    }
  }
  ~Cifar10Source() override {
    for (const auto& f : files_) ::close(f.fd);
  }

 protected:
  void read_labels(const std::string& folder, size_t first, size_t last, std::vector<int64_t>& labels) {
    namespace fs = std::filesystem;
    for (size_t b = first; b < last; ++b) {
      const std::string path = (fs::path(folder) / cifar10::kBatches[b].file).string();
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        throw InputError(fmt::format("{}: cannot open ({}); fetch it with `cmbench data fetch cifar10`", path,
                                     std::strerror(errno)));
      }
      files_.push_back({path, fd});
      const off_t size = ::lseek(fd, 0, SEEK_END);
      if (size != cifar10::kBatchBytes) {
        throw InputError(fmt::format("{}: wrong size {} bytes, expected {} (truncated or not a CIFAR-10 batch)", path,
                                     static_cast<int64_t>(size), cifar10::kBatchBytes));
      }
      // The label bytes sit one per record: read the records in chunks (one read each, not one per label).
      constexpr int64_t kChunk = 1000;
      std::vector<uint8_t> records(static_cast<size_t>(kChunk * cifar10::kRecordBytes));
      for (int64_t start = 0; start < cifar10::kImagesPerBatch; start += kChunk) {
        const int64_t n = std::min(kChunk, cifar10::kImagesPerBatch - start);
        pread_all(files_.size() - 1, start * cifar10::kRecordBytes, n * cifar10::kRecordBytes, records.data());
        for (int64_t i = 0; i < n; ++i) {
          const uint8_t label = records[static_cast<size_t>(i * cifar10::kRecordBytes)];
          if (label >= cifar10::kNumClasses) {
            throw InputError(fmt::format("{}: record {} has label {}, outside 0..9 (corrupted?)", path, start + i, label));
          }
          labels.push_back(label);
        }
      }
    }
  }

  void read_into(int64_t begin, int64_t end, uint8_t* out) const override {
    constexpr int64_t kChunk = 1024;
    // Sized for this call: a loader reads a few images at a time, and a full chunk per call would
    // cost a 3 MB allocation and fill for every image.
    std::vector<uint8_t> records(static_cast<size_t>(std::min(kChunk, end - begin) * cifar10::kRecordBytes));
    for (int64_t start = begin; start < end;) {
      const size_t file = static_cast<size_t>(start / cifar10::kImagesPerBatch);
      const int64_t in_file = start % cifar10::kImagesPerBatch;
      const int64_t n = std::min({kChunk, end - start, cifar10::kImagesPerBatch - in_file});
      pread_all(file, in_file * cifar10::kRecordBytes, n * cifar10::kRecordBytes, records.data());
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t* planes = records.data() + i * cifar10::kRecordBytes + 1;
        uint8_t* image = out + (start - begin + i) * image_bytes();
        for (int64_t p = 0; p < cifar10::kPlane; ++p) {
          image[3 * p] = planes[p];
          image[3 * p + 1] = planes[cifar10::kPlane + p];
          image[3 * p + 2] = planes[2 * cifar10::kPlane + p];
        }
      }
      start += n;
    }
  }

 private:
  void pread_all(size_t file, int64_t offset, int64_t size, uint8_t* out) const {
    while (size > 0) {
      const ssize_t got = ::pread(files_[file].fd, out, static_cast<size_t>(size), offset);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw InputError(fmt::format("{}: read failed", files_[file].path));
      out += got;
      offset += got;
      size -= got;
    }
  }

  struct File {
    std::string path;
    int fd;
  };
  std::vector<File> files_;
};

}  // namespace

std::unique_ptr<ImageSource> open_cifar10_binary(const std::string& root, const std::string& split,
                                                 const std::string& name) {
  if (split != "train" && split != "test") {
    throw InputError(fmt::format("{}: unknown CIFAR-10 split '{}' (train or test)", name, split));
  }
  return std::make_unique<Cifar10Source>(root, split, name);
}

}  // namespace cmbench

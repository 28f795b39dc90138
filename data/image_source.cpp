#include "data/image_source.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "data/basic_image_source.h"
#include "data/cifar10.h"
#include "data/data_root.h"
#include "data/gmm_source.h"
#include "data/imagenet_sources.h"

namespace cmbench {

namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// "batch_2" before "batch_10": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      const std::string na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      const auto strip = [](const std::string& s) { return s.substr(std::min(s.find_first_not_of('0'), s.size())); };
      const std::string sa = strip(na), sb = strip(nb);
      if (sa.size() != sb.size()) return sa.size() < sb.size();
      if (sa != sb) return sa < sb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

bool is_cifar10_root(const fs::path& dir) {
  const fs::path folder = cifar10::batches_folder(dir.string());
  return fs::exists(folder / "data_batch_1.bin") || fs::exists(folder / "test_batch.bin");
}

std::unique_ptr<ImageSource> open_folder(const std::string& spec) {
  if (is_cifar10_root(spec)) return open_cifar10_binary(spec, "train", spec);
  std::vector<std::string> npz_files;
  bool has_png = false;
  for (const auto& entry : fs::directory_iterator(spec)) {
    const std::string ext = lower_extension(entry.path());
    if (ext == ".png") has_png = true;
    if (ext == ".npz" && entry.is_regular_file()) npz_files.push_back(entry.path().string());
  }
  if (!has_png && !npz_files.empty()) {
    std::sort(npz_files.begin(), npz_files.end(), natural_less);
    return open_imagenet_batches(npz_files, spec);
  }
  return open_png_folder(spec);
}

}  // namespace

torch::Tensor ImageSource::read_indices(const std::vector<int64_t>& indices) const {
  if (indices.empty()) return read(0, 0);
  std::vector<torch::Tensor> runs;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i + 1;
    while (j < indices.size() && indices[j] == indices[j - 1] + 1) ++j;
    runs.push_back(read(indices[i], indices[j - 1] + 1));
    i = j;
  }
  return runs.size() == 1 ? runs[0] : torch::cat(runs, 0);
}

std::unique_ptr<ImageSource> open_image_source(const std::string& spec) {
  if (is_imagenet_source_name(spec)) return open_imagenet_source(spec);
  if (const auto gmm = parse_gmm_spec(spec)) return open_gmm_source(*gmm, spec);
  if (spec.rfind("cifar10:", 0) == 0) {
    const std::string root = data_root();
    return open_cifar10_binary(root, spec.substr(8), spec);
  }
  for (const char* split : {"train", "test"}) {
    const std::string suffix = std::string(":") + split;
    if (ends_with(spec, suffix)) {
      const std::string dir = spec.substr(0, spec.size() - suffix.size());
      if (fs::is_directory(dir)) return open_cifar10_binary(dir, split, spec);
    }
  }
  std::error_code ec;
  const auto status = fs::status(spec, ec);
  if (ec || !fs::exists(status)) throw InputError(fmt::format("{}: no such file or folder", spec));
  if (fs::is_directory(status)) return open_folder(spec);
  const std::string ext = lower_extension(spec);
  if (ext == ".zip") return open_edm_zip(spec);
  if (ext == ".npy") return open_npy_images(spec);
  if (ext == ".npz") return open_npz_images(spec);
  throw InputError(fmt::format("{}: unknown image source kind (expected a PNG folder, .zip, .npz, .npy, a CIFAR-10 "
                               "root, cifar10:train|test, imagenet64[-edm|-downsampled]:train|val or gmm:FILE.npz[:...])",
                               spec));
}

}  // namespace cmbench

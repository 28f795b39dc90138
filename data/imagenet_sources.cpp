#include "data/imagenet_sources.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "data/data_root.h"

namespace cmbench {

namespace {

namespace fs = std::filesystem;

struct Kind {
  const char* prefix;
  const char* transform;  // for the convert command; "" for the npz batches
};

constexpr Kind kKinds[] = {
    {"imagenet64", "center-crop-dhariwal"},
    {"imagenet64-edm", "center-crop"},
    {"imagenet64-downsampled", ""},
};

const Kind* kind_of(const std::string& spec) {
  for (const Kind& kind : kKinds) {
    const std::string prefix = std::string(kind.prefix) + ":";
    if (spec.rfind(prefix, 0) == 0) return &kind;
  }
  return nullptr;
}

std::string split_of(const std::string& spec, const Kind& kind) {
  const std::string split = spec.substr(std::string(kind.prefix).size() + 1);
  if (split != "train" && split != "val") {
    throw InputError(fmt::format("{}: unknown split '{}' (train or val)", spec, split));
  }
  return split;
}

bool has_npz_file(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return false;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.path().extension() == ".npz") return true;
  }
  return false;
}

}  // namespace

bool is_imagenet_source_name(const std::string& spec) { return kind_of(spec) != nullptr; }

std::string imagenet_source_path(const std::string& spec, const std::string& root) {
  const Kind* kind = kind_of(spec);
  if (!kind) throw InputError(fmt::format("{}: not an ImageNet-64 source name", spec));
  const std::string split = split_of(spec, *kind);
  const fs::path folder = fs::path(root) / "imagenet";
  if (*kind->transform == '\0') return (folder / "downsampled-64x64" / split).string();
  const std::string variant = std::string(kind->transform) == "center-crop" ? "edm" : "dhariwal";
  return (folder / fmt::format("imagenet-64x64-{}-{}.zip", variant, split)).string();
}

std::unique_ptr<ImageSource> open_imagenet_source(const std::string& spec) {
  const Kind* kind = kind_of(spec);
  const std::string path = imagenet_source_path(spec, data_root());
  const std::string split = split_of(spec, *kind);
  if (*kind->transform == '\0') {
    if (!has_npz_file(path)) {
      throw InputError(fmt::format(
          "{}: no .npz batches in {}; download Imagenet64_{}_npz.zip (Downsampled ImageNet 64x64) from "
          "https://image-net.org/download-images.php and unpack its .npz files there",
          spec, path, split));
    }
  } else if (!fs::is_regular_file(path)) {
    const std::string images = split == "train" ? "ILSVRC/Data/CLS-LOC/train"
                                                : "VAL_BY_SYNSET (ILSVRC2012 val sorted into synset folders)";
    throw InputError(fmt::format(
        "{}: {} not found; make it from ILSVRC2012 (https://image-net.org/download-images.php) with: cmbench data "
        "convert {} --to edm-zip {} --transform {} --resolution 64x64",
        spec, path, images, path, kind->transform));
  }
  auto source = open_image_source(path);
  return source;
}

}  // namespace cmbench
